"""channel accounts: ownership proof before routing, per-account inbound signing secrets

A claim is stored whatever its proof, but only a `verified` one routes inbound messages, and
only one verified claim may exist per provider account. Accounts connected before this check
keep routing nothing until they are verified (`POST /channel-accounts/{id}/verify` asks the
provider with their stored credentials); integrator accounts (chatgpt, phone) are proved by
their own signing secret, so they count as verified (`rotate-secret` gives them one).

Revision ID: 0007
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

S = "conversations"


def upgrade() -> None:
    op.add_column(
        "channel_accounts",
        sa.Column("verification", sa.String(20), nullable=False, server_default="unverified"),
        schema=S,
    )
    op.add_column("channel_accounts", sa.Column("verification_reason", sa.String(500)), schema=S)
    op.add_column(
        "channel_accounts",
        sa.Column("verified_at", sa.DateTime(timezone=True)),
        schema=S,
    )
    op.add_column("channel_accounts", sa.Column("inbound_secret_encrypted", sa.Text()), schema=S)
    op.create_check_constraint(
        "ck_channel_accounts_verification",
        "channel_accounts",
        "verification IN ('verified', 'unverified', 'failed')",
        schema=S,
    )
    op.execute(
        "UPDATE conversations.channel_accounts SET verification = 'verified', verified_at = now(), "
        "verification_reason = NULL WHERE channel IN ('chatgpt', 'phone')"
    )
    op.execute(
        "UPDATE conversations.channel_accounts SET verification_reason = "
        "'Connected before ownership checks: verify it to route its messages' "
        "WHERE channel NOT IN ('chatgpt', 'phone')"
    )
    op.drop_constraint(
        "uq_channel_accounts_channel_account_id", "channel_accounts", type_="unique", schema=S
    )
    op.create_unique_constraint(
        "uq_channel_accounts_workspace_id_channel_account_id",
        "channel_accounts",
        ["workspace_id", "channel", "account_id"],
        schema=S,
    )
    op.create_index(
        "uq_channel_accounts_verified",
        "channel_accounts",
        ["channel", "account_id"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("verification = 'verified'"),
    )


def downgrade() -> None:
    # Back to one claim per provider account: the verified one wins, others go.
    op.execute(
        "DELETE FROM conversations.channel_accounts a USING conversations.channel_accounts b "
        "WHERE a.channel = b.channel AND a.account_id = b.account_id AND a.id <> b.id "
        "AND a.verification <> 'verified' "
        "AND (b.verification = 'verified' OR (a.created_at, a.id) > (b.created_at, b.id))"
    )
    op.drop_index("uq_channel_accounts_verified", "channel_accounts", schema=S)
    op.drop_constraint(
        "uq_channel_accounts_workspace_id_channel_account_id",
        "channel_accounts",
        type_="unique",
        schema=S,
    )
    op.create_unique_constraint(
        "uq_channel_accounts_channel_account_id",
        "channel_accounts",
        ["channel", "account_id"],
        schema=S,
    )
    op.drop_constraint("ck_channel_accounts_verification", "channel_accounts", schema=S)
    for column in (
        "inbound_secret_encrypted",
        "verified_at",
        "verification_reason",
        "verification",
    ):
        op.drop_column("channel_accounts", column, schema=S)
