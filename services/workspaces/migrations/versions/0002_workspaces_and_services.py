"""workspaces and the services they offer

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

SCHEMA = "workspaces"


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("owner_id", UUID(as_uuid=True), nullable=False),
        sa.Column("handle", sa.String(63), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("tone", sa.String(20), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
        sa.UniqueConstraint("owner_id", name=op.f("uq_workspaces_owner_id")),
        sa.UniqueConstraint("handle", name=op.f("uq_workspaces_handle")),
        sa.CheckConstraint(
            "handle ~ '^[a-z0-9]+(?:-[a-z0-9]+)*$' AND char_length(handle) BETWEEN 3 AND 63",
            name=op.f("ck_workspaces_handle_format"),
        ),
        sa.CheckConstraint(
            "tone IN ('friendly', 'professional', 'casual', 'formal')",
            name=op.f("ck_workspaces_tone_known"),
        ),
        sa.CheckConstraint(
            "char_length(btrim(name)) > 0", name=op.f("ck_workspaces_name_not_blank")
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "workspace_services",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("workspace_id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("price", sa.Numeric(12, 2), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace_services")),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            [f"{SCHEMA}.workspaces.id"],
            name=op.f("fk_workspace_services_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "workspace_id",
            "position",
            name=op.f("uq_workspace_services_workspace_id_position"),
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.CheckConstraint(
            "duration_minutes > 0", name=op.f("ck_workspace_services_duration_positive")
        ),
        sa.CheckConstraint(
            "price IS NULL OR price >= 0", name=op.f("ck_workspace_services_price_not_negative")
        ),
        sa.CheckConstraint(
            "(price IS NULL) = (currency IS NULL)",
            name=op.f("ck_workspace_services_currency_with_price"),
        ),
        sa.CheckConstraint(
            "currency ~ '^[A-Z]{3}$'", name=op.f("ck_workspace_services_currency_format")
        ),
        sa.CheckConstraint(
            "position >= 0", name=op.f("ck_workspace_services_position_not_negative")
        ),
        sa.CheckConstraint(
            "char_length(btrim(name)) > 0", name=op.f("ck_workspace_services_name_not_blank")
        ),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("workspace_services", schema=SCHEMA)
    op.drop_table("workspaces", schema=SCHEMA)
