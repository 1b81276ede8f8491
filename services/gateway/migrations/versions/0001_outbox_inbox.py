"""outbox and inbox tables

Revision ID: 0001
Revises:
"""

from alembic import op

from shared.db.migrations import create_outbox_and_inbox

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_and_inbox(op, "identity")


def downgrade() -> None:
    op.execute('DROP TABLE IF EXISTS "identity".inbox')
    op.execute('DROP TABLE IF EXISTS "identity".outbox')
    op.execute('DROP FUNCTION IF EXISTS "identity".notify_outbox()')
