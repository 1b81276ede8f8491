"""Identity codes (a one-time code proves a typed e-mail), the web chat's client address,
anonymous web chat bookings per address and day, require_verified_contact_on_webchat

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

S = "conversations"


def upgrade() -> None:
    op.create_table(
        "identity_codes",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("workspace_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("conversation_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("contact_id", pg.UUID(as_uuid=True), nullable=True),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("target", sa.String(320), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("channel IN ('email', 'sms')", name="ck_identity_codes_channel"),
        sa.CheckConstraint("attempts >= 0", name="ck_identity_codes_attempts_not_negative"),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            [f"{S}.workspaces.id"],
            name="fk_identity_codes_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            [f"{S}.conversations.id"],
            name="fk_identity_codes_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            [f"{S}.contacts.id"],
            name="fk_identity_codes_contact_id_contacts",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_identity_codes"),
        schema=S,
    )
    op.create_index(
        "ix_identity_codes_conversation_created",
        "identity_codes",
        ["conversation_id", "created_at"],
        schema=S,
    )
    op.create_index(
        "ix_identity_codes_workspace_target_created",
        "identity_codes",
        ["workspace_id", "target", "created_at"],
        schema=S,
    )
    op.create_table(
        "webchat_booking_counts",
        sa.Column("workspace_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("bookings", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("bookings >= 0", name="ck_webchat_booking_counts_bookings_not_negative"),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            [f"{S}.workspaces.id"],
            name="fk_webchat_booking_counts_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "address", "day", name="pk_webchat_booking_counts"),
        schema=S,
    )
    op.add_column(
        "conversations", sa.Column("client_address", sa.String(64), nullable=True), schema=S
    )
    op.add_column(
        "agent_settings",
        sa.Column(
            "require_verified_contact_on_webchat",
            sa.Boolean(),
            nullable=False,
            server_default=sa.text("false"),
        ),
        schema=S,
    )


def downgrade() -> None:
    op.drop_column("agent_settings", "require_verified_contact_on_webchat", schema=S)
    op.drop_column("conversations", "client_address", schema=S)
    op.drop_table("webchat_booking_counts", schema=S)
    op.drop_index("ix_identity_codes_workspace_target_created", "identity_codes", schema=S)
    op.drop_index("ix_identity_codes_conversation_created", "identity_codes", schema=S)
    op.drop_table("identity_codes", schema=S)
