"""live streams: a change counter per workspace, stamped at commit, and a NOTIFY per change

Revision ID: 0004
Revises: 0003

Every new message, delivery-status change, new conversation and status change gets the next
value of its workspace's counter (`workspaces.live_seq`) in a deferred trigger, i.e. while
the transaction commits, under that workspace row's lock. So within one workspace the
numbers follow commit order: a stream that has shown number N can ask for "> N" and never
skip a change that committed later with a smaller number. The same trigger sends
`pg_notify('conversations_live', {workspace_id, conversation_id, message_id, kind, seq})`,
ids only: listeners read the rows themselves.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "conversations"

FUNCTION = """
CREATE FUNCTION conversations.live_mark() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    seq bigint;
    conversation uuid;
    message uuid;
    kind text;
BEGIN
    IF TG_TABLE_NAME = 'messages' THEN
        conversation := NEW.conversation_id;
        message := NEW.id;
        kind := CASE TG_OP WHEN 'INSERT' THEN 'message.created'
                           ELSE 'message.delivery_updated' END;
    ELSE
        conversation := NEW.id;
        message := NULL;
        kind := CASE TG_OP WHEN 'INSERT' THEN 'conversation.created'
                           ELSE 'conversation.status_changed' END;
    END IF;
    UPDATE conversations.workspaces SET live_seq = live_seq + 1
        WHERE id = NEW.workspace_id RETURNING live_seq INTO seq;
    IF seq IS NULL THEN
        RETURN NULL;
    END IF;
    IF message IS NOT NULL THEN
        UPDATE conversations.messages SET live_seq = seq WHERE id = message;
    ELSE
        UPDATE conversations.conversations SET live_seq = seq WHERE id = conversation;
    END IF;
    IF FOUND THEN
        PERFORM pg_notify('conversations_live', json_build_object(
            'workspace_id', NEW.workspace_id, 'conversation_id', conversation,
            'message_id', message, 'kind', kind, 'seq', seq)::text);
    END IF;
    RETURN NULL;
END
$$
"""

DEFERRED = "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
TRIGGERS = {
    "live_message_created": ("messages", f"AFTER INSERT ON {{table}} {DEFERRED}"),
    "live_message_delivery": (
        "messages",
        f"AFTER UPDATE OF delivery_status ON {{table}} {DEFERRED} "
        "WHEN (OLD.delivery_status IS DISTINCT FROM NEW.delivery_status)",
    ),
    "live_conversation_created": ("conversations", f"AFTER INSERT ON {{table}} {DEFERRED}"),
    "live_conversation_status": (
        "conversations",
        f"AFTER UPDATE OF status ON {{table}} {DEFERRED} "
        "WHEN (OLD.status IS DISTINCT FROM NEW.status)",
    ),
}


def upgrade() -> None:
    op.add_column(
        "workspaces",
        sa.Column("live_seq", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        schema=S,
    )
    op.add_column("conversations", sa.Column("live_seq", sa.BigInteger(), nullable=True), schema=S)
    op.add_column("messages", sa.Column("live_seq", sa.BigInteger(), nullable=True), schema=S)
    op.create_index(
        "ix_conversations_workspace_live", "conversations", ["workspace_id", "live_seq"], schema=S
    )
    op.create_index(
        "ix_messages_conversation_live", "messages", ["conversation_id", "live_seq"], schema=S
    )
    op.create_index(
        "ix_messages_workspace_live", "messages", ["workspace_id", "live_seq"], schema=S
    )
    op.execute(FUNCTION)
    for name, (table, spec) in TRIGGERS.items():
        on = spec.format(table=f'"{S}".{table}')
        op.execute(f'CREATE CONSTRAINT TRIGGER {name} {on} EXECUTE FUNCTION "{S}".live_mark()')


def downgrade() -> None:
    for name, (table, _) in TRIGGERS.items():
        op.execute(f'DROP TRIGGER IF EXISTS {name} ON "{S}".{table}')
    op.execute(f'DROP FUNCTION IF EXISTS "{S}".live_mark()')
    op.drop_index("ix_messages_workspace_live", "messages", schema=S)
    op.drop_index("ix_messages_conversation_live", "messages", schema=S)
    op.drop_index("ix_conversations_workspace_live", "conversations", schema=S)
    op.drop_column("messages", "live_seq", schema=S)
    op.drop_column("conversations", "live_seq", schema=S)
    op.drop_column("workspaces", "live_seq", schema=S)
