"""Agent settings: what the agent needs from a visitor before booking.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SCHEMA = "conversations"


def upgrade() -> None:
    op.add_column(
        "agent_settings",
        sa.Column(
            "required_contact",
            sa.String(30),
            nullable=False,
            server_default="name_and_phone_or_email",
        ),
        schema=SCHEMA,
    )
    op.create_check_constraint(
        "ck_agent_settings_required_contact",
        "agent_settings",
        "required_contact IN ('name', 'name_and_phone_or_email', 'name_and_phone', "
        "'name_and_email')",
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_constraint(
        "ck_agent_settings_required_contact", "agent_settings", schema=SCHEMA, type_="check"
    )
    op.drop_column("agent_settings", "required_contact", schema=SCHEMA)
