"""bookings: who booked (contact), the owner's marks, idempotency keys of live bookings only

Revision ID: 0004
Revises: 0003

`contact_id` ties a booking to the conversations service's contact (filters the list, with
`conversation_id`). `visitor_confirmed_at` and `attendance` are the marks set after booking.

An idempotency key now names the live booking made with it: the unique index covers
confirmed rows only, so after a cancellation the same key books again instead of answering
with the cancelled booking as if it still held the time.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "connectors"
KEY_INDEX = "ix_bookings_connector_idempotency_key"


def upgrade() -> None:
    op.add_column("bookings", sa.Column("contact_id", UUID(as_uuid=True)), schema=S)
    op.add_column(
        "bookings", sa.Column("visitor_confirmed_at", sa.DateTime(timezone=True)), schema=S
    )
    op.add_column("bookings", sa.Column("attendance", sa.String(10)), schema=S)
    op.execute(
        f"ALTER TABLE {S}.bookings ADD CONSTRAINT ck_bookings_attendance "
        "CHECK (attendance IN ('attended', 'no_show'))"
    )
    op.create_index(
        "ix_bookings_workspace_contact", "bookings", ["workspace_id", "contact_id"], schema=S
    )
    op.create_index(
        "ix_bookings_workspace_conversation",
        "bookings",
        ["workspace_id", "conversation_id"],
        schema=S,
    )
    op.drop_index(KEY_INDEX, "bookings", schema=S)
    op.create_index(
        KEY_INDEX,
        "bookings",
        ["connector_id", "idempotency_key"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("idempotency_key IS NOT NULL AND status = 'confirmed'"),
    )


def downgrade() -> None:
    # The older index holds one row per key whatever its status: keep the key on the newest
    # row of each and forget it on the older, cancelled ones.
    op.execute(
        f"UPDATE {S}.bookings AS b SET idempotency_key = NULL "  # noqa: S608
        "WHERE b.status = 'cancelled' AND b.idempotency_key IS NOT NULL AND EXISTS ("
        f"SELECT 1 FROM {S}.bookings AS o WHERE o.connector_id = b.connector_id "
        "AND o.idempotency_key = b.idempotency_key AND o.id <> b.id "
        "AND (o.status = 'confirmed' OR (o.created_at, o.id) > (b.created_at, b.id)))"
    )
    op.drop_index(KEY_INDEX, "bookings", schema=S)
    op.create_index(
        KEY_INDEX,
        "bookings",
        ["connector_id", "idempotency_key"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.drop_index("ix_bookings_workspace_conversation", "bookings", schema=S)
    op.drop_index("ix_bookings_workspace_contact", "bookings", schema=S)
    op.execute(f"ALTER TABLE {S}.bookings DROP CONSTRAINT ck_bookings_attendance")
    for name in ("attendance", "visitor_confirmed_at", "contact_id"):
        op.drop_column("bookings", name, schema=S)
