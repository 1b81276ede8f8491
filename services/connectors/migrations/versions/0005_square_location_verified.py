"""connectors: when the connector's credentials were proven to reach its location

Revision ID: 0005
Revises: 0004

A Square location id is typed by the owner, so anyone could claim another seller's location
and receive its booking webhooks. Webhooks for a location now go only to a connector whose
access token was shown to see that location (`GET /v2/locations/{id}`), recorded here.
Existing connectors start unverified: they receive nothing until activated or checked again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "connectors"


def upgrade() -> None:
    op.add_column("connectors", sa.Column("verified_at", sa.DateTime(timezone=True)), schema=S)


def downgrade() -> None:
    op.drop_column("connectors", "verified_at", schema=S)
