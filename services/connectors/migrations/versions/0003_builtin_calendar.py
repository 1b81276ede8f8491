"""built-in calendar: service projection, bookings that hold time, no overlaps

Revision ID: 0003
Revises: 0002

The existing `bookings` table is extended rather than a second one added: every booking a
workspace has, whatever the provider, is then listed from one place, and idempotency keys,
cancellation and the outbox work the same way. Built-in bookings also carry the range they
hold (buffers included), and a partial exclusion constraint over that range keeps two
confirmed built-in bookings of one workspace from ever holding the same time.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "connectors"


# 0002 created this check under the doubled name the naming convention produced there.
PROVIDER_CHECK = "ck_connectors_ck_connectors_provider"


def _provider_check(providers: str) -> None:
    op.execute(f"ALTER TABLE {S}.connectors DROP CONSTRAINT {PROVIDER_CHECK}")
    op.execute(
        f"ALTER TABLE {S}.connectors ADD CONSTRAINT {PROVIDER_CHECK} "
        f"CHECK (provider IN ({providers}))"
    )


def upgrade() -> None:
    # gist over `workspace_id WITH =` needs the btree operator classes.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")

    op.create_table(
        "workspace_services",
        sa.Column("service_id", UUID(as_uuid=True), nullable=False),
        sa.Column("workspace_id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("duration_minutes", sa.Integer, nullable=False),
        sa.Column("is_active", sa.Boolean, nullable=False),
        sa.Column("position", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("source_version", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("service_id", name="pk_workspace_services"),
        schema=S,
    )
    op.create_index(
        "ix_workspace_services_workspace_id", "workspace_services", ["workspace_id"], schema=S
    )

    _provider_check("'calendly', 'square', 'agendapro', 'builtin'")

    for column in (
        sa.Column("held_from", sa.DateTime(timezone=True)),
        sa.Column("held_until", sa.DateTime(timezone=True)),
        sa.Column("visitor_name", sa.String(200)),
        sa.Column("visitor_email", sa.String(320)),
        sa.Column("visitor_phone", sa.String(32)),
        sa.Column("notes", sa.Text),
        sa.Column("conversation_id", UUID(as_uuid=True)),
    ):
        op.add_column("bookings", column, schema=S)
    op.execute(
        f"ALTER TABLE {S}.bookings ADD CONSTRAINT ck_bookings_builtin_times CHECK ("
        "provider <> 'builtin' OR (end_at IS NOT NULL AND held_from IS NOT NULL "
        "AND held_until IS NOT NULL AND held_from <= start_at AND held_until >= end_at "
        "AND start_at < end_at))"
    )
    op.create_index(
        "ix_bookings_workspace_start", "bookings", ["workspace_id", "start_at"], schema=S
    )
    op.execute(
        f"ALTER TABLE {S}.bookings ADD CONSTRAINT ex_bookings_builtin_no_overlap "
        "EXCLUDE USING gist (workspace_id WITH =, tstzrange(held_from, held_until, '[)') WITH &&) "
        "WHERE (status = 'confirmed' AND provider = 'builtin')"
    )


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.bookings DROP CONSTRAINT ex_bookings_builtin_no_overlap")
    op.drop_index("ix_bookings_workspace_start", "bookings", schema=S)
    op.execute(f"ALTER TABLE {S}.bookings DROP CONSTRAINT ck_bookings_builtin_times")
    for name in (
        "conversation_id",
        "notes",
        "visitor_phone",
        "visitor_email",
        "visitor_name",
        "held_until",
        "held_from",
    ):
        op.drop_column("bookings", name, schema=S)
    op.execute(f"DELETE FROM {S}.connectors WHERE provider = 'builtin'")  # noqa: S608
    _provider_check("'calendly', 'square', 'agendapro'")
    op.drop_index("ix_workspace_services_workspace_id", "workspace_services", schema=S)
    op.drop_table("workspace_services", schema=S)
    # btree_gist stays: other objects in the database may use it.
