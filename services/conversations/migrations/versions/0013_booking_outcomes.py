"""What became of a booking, for the stats: attendance as the owner marked it, and whether it
was cancelled or moved after a reminder had gone. Reminder jobs are kept per appointment start,
so a move plans new jobs beside the ones already sent instead of overwriting their record, and
a job may be a cancellation notice (a booking the owner or the provider cancelled).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SCHEMA = "conversations"
TABLE = "reminder_bookings"
JOBS = "reminder_jobs"
OLD_UNIQUE = "uq_reminder_jobs_workspace_id_booking_id_kind_offset_minutes"
NEW_UNIQUE = "uq_reminder_jobs_one_per_start"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("attendance", sa.String(10)), schema=SCHEMA)
    op.add_column(
        TABLE, sa.Column("attendance_source_at", sa.DateTime(timezone=True)), schema=SCHEMA
    )
    op.add_column(
        TABLE, sa.Column("cancelled_after_reminder_at", sa.DateTime(timezone=True)), schema=SCHEMA
    )
    op.add_column(
        TABLE, sa.Column("moved_after_reminder_at", sa.DateTime(timezone=True)), schema=SCHEMA
    )
    op.create_check_constraint(
        "ck_reminder_bookings_attendance",
        TABLE,
        "attendance IN ('attended', 'no_show')",
        schema=SCHEMA,
    )
    op.add_column(JOBS, sa.Column("start_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    # The start a job was planned for: its booking's, else (a cancelled booking whose start
    # was never seen) the due time plus the offset, which is what planning did.
    op.execute(
        """
        UPDATE conversations.reminder_jobs j SET start_at = coalesce(
            (SELECT b.start_at FROM conversations.reminder_bookings b
             WHERE b.workspace_id = j.workspace_id AND b.booking_id = j.booking_id),
            j.due_at + make_interval(mins => j.offset_minutes))
        """
    )
    op.alter_column(JOBS, "start_at", nullable=False, schema=SCHEMA)
    op.drop_constraint(OLD_UNIQUE, JOBS, schema=SCHEMA, type_="unique")
    op.create_unique_constraint(
        NEW_UNIQUE,
        JOBS,
        ["workspace_id", "booking_id", "kind", "offset_minutes", "start_at"],
        schema=SCHEMA,
    )
    op.drop_constraint("ck_reminder_jobs_kind", JOBS, schema=SCHEMA, type_="check")
    op.create_check_constraint(
        "ck_reminder_jobs_kind",
        JOBS,
        "kind IN ('reminder', 'confirmation', 'cancellation')",
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.execute("DELETE FROM conversations.reminder_jobs WHERE kind = 'cancellation'")
    op.drop_constraint("ck_reminder_jobs_kind", JOBS, schema=SCHEMA, type_="check")
    op.create_check_constraint(
        "ck_reminder_jobs_kind", JOBS, "kind IN ('reminder', 'confirmation')", schema=SCHEMA
    )
    # Keep the newest job of each offset (what the one-per-offset key held).
    op.execute(
        """
        DELETE FROM conversations.reminder_jobs j USING conversations.reminder_jobs k
        WHERE j.workspace_id = k.workspace_id AND j.booking_id = k.booking_id
          AND j.kind = k.kind AND j.offset_minutes = k.offset_minutes
          AND j.created_at < k.created_at
        """
    )
    op.drop_constraint(NEW_UNIQUE, JOBS, schema=SCHEMA, type_="unique")
    op.create_unique_constraint(
        OLD_UNIQUE, JOBS, ["workspace_id", "booking_id", "kind", "offset_minutes"], schema=SCHEMA
    )
    op.drop_column(JOBS, "start_at", schema=SCHEMA)
    op.drop_constraint("ck_reminder_bookings_attendance", TABLE, schema=SCHEMA, type_="check")
    for column in (
        "moved_after_reminder_at",
        "cancelled_after_reminder_at",
        "attendance_source_at",
        "attendance",
    ):
        op.drop_column(TABLE, column, schema=SCHEMA)
