"""business facts in the workspace projection; price and currency in the service projection

Revision ID: 0006
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0006"
down_revision = "0008"
branch_labels = None
depends_on = None

S = "conversations"


def _jsonb(name: str, empty: str) -> sa.Column:
    return sa.Column(name, pg.JSONB(), nullable=False, server_default=sa.text(f"'{empty}'::jsonb"))


def upgrade() -> None:
    for column in (
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("map_url", sa.Text(), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        _jsonb("payment_methods", "[]"),
        _jsonb("policies", "{}"),
        _jsonb("faq", "[]"),
    ):
        op.add_column("workspaces", column, schema=S)
    op.add_column("workspace_services", sa.Column("price", sa.Numeric(12, 2)), schema=S)
    op.add_column("workspace_services", sa.Column("currency", sa.String(3)), schema=S)


def downgrade() -> None:
    op.drop_column("workspace_services", "currency", schema=S)
    op.drop_column("workspace_services", "price", schema=S)
    for name in ("faq", "policies", "payment_methods", "email", "phone", "map_url", "address"):
        op.drop_column("workspaces", name, schema=S)
