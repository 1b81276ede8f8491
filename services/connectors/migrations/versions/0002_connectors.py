"""workspace projection, connectors, bookings, webhook receipts

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "connectors"


def _ts(name: str, nullable: bool = False, default: bool = True) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if default else None,
    )


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("workspace_id", UUID(as_uuid=True), nullable=False),
        sa.Column("owner_id", UUID(as_uuid=True), nullable=False),
        sa.Column("handle", sa.String(100), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        _ts("source_version", default=False),
        _ts("deleted_at", nullable=True, default=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("workspace_id", name="pk_workspaces"),
        schema=S,
    )
    op.create_index(
        "ix_workspaces_owner_live",
        "workspaces",
        ["owner_id"],
        schema=S,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )

    op.create_table(
        "connectors",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("workspace_id", UUID(as_uuid=True), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("config_encrypted", sa.Text, nullable=False),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("status", sa.String(20), nullable=False, server_default="unchecked"),
        sa.Column("last_error", sa.Text),
        _ts("checked_at", nullable=True, default=False),
        sa.Column("account_ref", sa.String(300)),
        sa.Column("organization_ref", sa.String(300)),
        sa.Column("location_ref", sa.String(100)),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_connectors"),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            [f"{S}.workspaces.workspace_id"],
            name="fk_connectors_workspace_id_workspaces",
        ),
        sa.CheckConstraint(
            "provider IN ('calendly', 'square', 'agendapro')", name="ck_connectors_provider"
        ),
        sa.CheckConstraint("status IN ('ok', 'error', 'unchecked')", name="ck_connectors_status"),
        schema=S,
    )
    op.create_index("ix_connectors_workspace_id", "connectors", ["workspace_id"], schema=S)
    op.create_index(
        "ix_connectors_one_active_per_workspace",
        "connectors",
        ["workspace_id"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("is_active"),
    )
    for name, cols in (
        ("ix_connectors_provider_account", ["provider", "account_ref"]),
        ("ix_connectors_provider_organization", ["provider", "organization_ref"]),
        ("ix_connectors_provider_location", ["provider", "location_ref"]),
    ):
        op.create_index(name, "connectors", cols, schema=S)

    op.create_table(
        "bookings",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("connector_id", UUID(as_uuid=True), nullable=False),
        sa.Column("workspace_id", UUID(as_uuid=True), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("external_id", sa.String(300), nullable=False),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("event_type", sa.String(300)),
        _ts("start_at", default=False),
        _ts("end_at", nullable=True, default=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_bookings"),
        sa.ForeignKeyConstraint(
            ["connector_id"],
            [f"{S}.connectors.id"],
            name="fk_bookings_connector_id_connectors",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "connector_id", "external_id", name="uq_bookings_connector_id_external_id"
        ),
        sa.CheckConstraint("status IN ('confirmed', 'cancelled')", name="ck_bookings_status"),
        sa.CheckConstraint("source IN ('platform', 'provider')", name="ck_bookings_source"),
        schema=S,
    )
    op.create_index(
        "ix_bookings_connector_idempotency_key",
        "bookings",
        ["connector_id", "idempotency_key"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )

    op.create_table(
        "webhook_receipts",
        sa.Column("id", sa.BigInteger, autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("delivery_key", sa.String(400), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("connector_id", UUID(as_uuid=True)),
        _ts("received_at"),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_receipts"),
        sa.UniqueConstraint(
            "provider", "delivery_key", name="uq_webhook_receipts_provider_delivery_key"
        ),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("webhook_receipts", schema=S)
    op.drop_table("bookings", schema=S)
    op.drop_table("connectors", schema=S)
    op.drop_table("workspaces", schema=S)
