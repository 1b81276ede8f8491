"""token version per user; JSON-null social links read as none

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("token_version", sa.Integer(), nullable=False, server_default="0"),
        schema="identity",
    )
    # `{"social_links": null}` used to be stored as JSON null, which no read accepted.
    op.execute(
        "UPDATE identity.users SET social_links = '{}'::jsonb "
        "WHERE jsonb_typeof(social_links) IS DISTINCT FROM 'object'"
    )


def downgrade() -> None:
    op.drop_column("users", "token_version", schema="identity")
