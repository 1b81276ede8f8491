"""web chat typing signal: the agent waits for more only while the visitor types

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

S = "conversations"


def upgrade() -> None:
    op.create_table(
        "visitor_typing",
        sa.Column("conversation_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("typed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            [f"{S}.conversations.id"],
            name="fk_visitor_typing_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", name="pk_visitor_typing"),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("visitor_typing", schema=S)
