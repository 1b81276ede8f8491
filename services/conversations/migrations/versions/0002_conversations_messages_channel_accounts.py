"""workspace projection, channel accounts, conversations, messages, unrouted messages

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "conversations"
CHANNEL_CHECK = (
    "channel IN ('web', 'instagram', 'whatsapp', 'sms', 'messenger', 'chatgpt', 'phone')"
)


def _ts(name: str, nullable: bool = False, now: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if now else None,
    )


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("owner_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("handle", sa.String(100), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        _ts("source_updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_workspaces"),
        schema=S,
    )
    op.create_index("ix_workspaces_owner_id", "workspaces", ["owner_id"], schema=S)
    op.create_index("ix_workspaces_handle", "workspaces", ["handle"], schema=S)

    op.create_table(
        "channel_accounts",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("workspace_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        _ts("created_at", now=True),
        sa.PrimaryKeyConstraint("id", name="pk_channel_accounts"),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            [f"{S}.workspaces.id"],
            name="fk_channel_accounts_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("channel", "account_id", name="uq_channel_accounts_channel_account_id"),
        sa.CheckConstraint(CHANNEL_CHECK, name="ck_channel_accounts_channel"),
        schema=S,
    )
    op.create_index(
        "ix_channel_accounts_workspace_id", "channel_accounts", ["workspace_id"], schema=S
    )

    op.create_table(
        "conversations",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("workspace_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("visitor_id", sa.String(200), nullable=False),
        sa.Column("visitor_name", sa.String(200), nullable=True),
        sa.Column("visitor_contact", sa.String(200), nullable=True),
        sa.Column("status", sa.String(20), nullable=False, server_default="open"),
        sa.Column("tags", pg.ARRAY(sa.String(32)), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("time_saved_seconds", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("message_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        _ts("started_at"),
        _ts("last_message_at", nullable=True),
        _ts("last_activity_at"),
        _ts("created_at", now=True),
        _ts("updated_at", now=True),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            [f"{S}.workspaces.id"],
            name="fk_conversations_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "workspace_id",
            "channel",
            "visitor_id",
            name="uq_conversations_workspace_id_channel_visitor_id",
        ),
        sa.CheckConstraint(CHANNEL_CHECK, name="ck_conversations_channel"),
        sa.CheckConstraint(
            "status IN ('open', 'pending', 'resolved')", name="ck_conversations_status"
        ),
        sa.CheckConstraint(
            "time_saved_seconds >= 0", name="ck_conversations_time_saved_not_negative"
        ),
        sa.CheckConstraint(
            "message_count >= 0", name="ck_conversations_message_count_not_negative"
        ),
        schema=S,
    )
    op.create_index(
        "ix_conversations_workspace_activity",
        "conversations",
        ["workspace_id", sa.text("last_activity_at DESC")],
        schema=S,
    )
    op.create_index(
        "ix_conversations_tags", "conversations", ["tags"], postgresql_using="gin", schema=S
    )

    op.create_table(
        "messages",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("conversation_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("workspace_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=True),
        _ts("sent_at"),
        _ts("created_at", now=True),
        sa.Column("metadata", pg.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("delivery_status", sa.String(20), nullable=True),
        _ts("delivery_updated_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            [f"{S}.conversations.id"],
            name="fk_messages_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("channel", "external_id", name="uq_messages_channel_external_id"),
        sa.CheckConstraint(CHANNEL_CHECK, name="ck_messages_channel"),
        sa.CheckConstraint("role IN ('visitor', 'agent', 'owner')", name="ck_messages_role"),
        schema=S,
    )
    op.create_index(
        "ix_messages_conversation_order",
        "messages",
        ["conversation_id", "sent_at", "id"],
        schema=S,
    )
    op.create_index("ix_messages_workspace_sent", "messages", ["workspace_id", "sent_at"], schema=S)

    op.create_table(
        "unrouted_messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=True),
        sa.Column("workspace_id", pg.UUID(as_uuid=True), nullable=True),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("payload", pg.JSONB(), nullable=False),
        _ts("received_at", now=True),
        sa.PrimaryKeyConstraint("id", name="pk_unrouted_messages"),
        sa.UniqueConstraint("event_id", name="uq_unrouted_messages_event_id"),
        schema=S,
    )


def downgrade() -> None:
    for table in (
        "unrouted_messages",
        "messages",
        "conversations",
        "channel_accounts",
        "workspaces",
    ):
        op.drop_table(table, schema=S)
