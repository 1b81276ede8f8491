"""way back: channel credentials, delivery tracking

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "conversations"
DELIVERY_CHECK = (
    "delivery_status IN ('pending', 'sending', 'sent', 'delivered', 'read', 'failed', 'unknown')"
)


def upgrade() -> None:
    op.add_column("channel_accounts", sa.Column("credentials_encrypted", sa.Text()), schema=S)

    op.add_column("conversations", sa.Column("channel_account_id", pg.UUID(as_uuid=True)), schema=S)
    op.create_foreign_key(
        "fk_conversations_channel_account_id_channel_accounts",
        "conversations",
        "channel_accounts",
        ["channel_account_id"],
        ["id"],
        source_schema=S,
        referent_schema=S,
        ondelete="SET NULL",
    )
    op.add_column("conversations", sa.Column("opted_out_at", sa.DateTime(timezone=True)), schema=S)
    op.add_column("messages", sa.Column("delivery_error", sa.Text()), schema=S)
    op.create_check_constraint("ck_messages_delivery_status", "messages", DELIVERY_CHECK, schema=S)
    op.create_index(
        "ix_messages_sending",
        "messages",
        ["delivery_updated_at"],
        schema=S,
        postgresql_where=sa.text("delivery_status = 'sending'"),
    )

    op.create_table(
        "early_receipts",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.PrimaryKeyConstraint("id", name="pk_early_receipts"),
        schema=S,
    )
    op.create_index(
        "ix_early_receipts_channel_external_id",
        "early_receipts",
        ["channel", "external_id"],
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("early_receipts", schema=S)
    op.drop_index("ix_messages_sending", "messages", schema=S)
    op.drop_constraint("ck_messages_delivery_status", "messages", schema=S)
    op.drop_column("messages", "delivery_error", schema=S)
    op.drop_column("conversations", "opted_out_at", schema=S)
    op.drop_constraint(
        "fk_conversations_channel_account_id_channel_accounts", "conversations", schema=S
    )
    op.drop_column("conversations", "channel_account_id", schema=S)
    op.drop_column("channel_accounts", "credentials_encrypted", schema=S)
