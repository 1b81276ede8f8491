"""business facts on the workspace: address, map link, phone, e-mail, payment methods,
policies and frequent questions

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

SCHEMA = "workspaces"
TABLE = "workspaces"

CHECKS = {
    "phone_e164": r"phone ~ '^\+[1-9][0-9]{5,14}$'",
    "map_url_https": "map_url LIKE 'https://%'",
    "payment_methods_count": "cardinality(payment_methods) <= 20",
    "faq_list": "jsonb_typeof(faq) = 'array' AND jsonb_array_length(faq) <= 50",
}


def upgrade() -> None:
    for column in (
        sa.Column("address", sa.String(300), nullable=True),
        sa.Column("map_url", sa.String(2000), nullable=True),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column(
            "payment_methods",
            pg.ARRAY(sa.String(60)),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
        sa.Column("policy_cancellation", sa.String(500), nullable=True),
        sa.Column("policy_lateness", sa.String(500), nullable=True),
        sa.Column("policy_deposit", sa.String(500), nullable=True),
        sa.Column("faq", pg.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
    ):
        op.add_column(TABLE, column, schema=SCHEMA)
    for name, condition in CHECKS.items():
        op.create_check_constraint(op.f(f"ck_{TABLE}_{name}"), TABLE, condition, schema=SCHEMA)


def downgrade() -> None:
    for name in CHECKS:
        op.drop_constraint(op.f(f"ck_{TABLE}_{name}"), TABLE, schema=SCHEMA, type_="check")
    for name in (
        "faq",
        "policy_deposit",
        "policy_lateness",
        "policy_cancellation",
        "payment_methods",
        "email",
        "phone",
        "map_url",
        "address",
    ):
        op.drop_column(TABLE, name, schema=SCHEMA)
