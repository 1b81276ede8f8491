"""Tables of reminders (migration 0010): the owner's settings, what conversations knows of
each booking, and one durable job per message to send. The jobs are the truth the scheduler
works from; nothing is held in memory."""

from __future__ import annotations

import uuid
from datetime import datetime
from datetime import time as Clock

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.orm import Mapped, mapped_column

from conversations.db.models import Base


class ReminderSettings(Base):
    """The owner's reminder settings; a workspace without a row uses the defaults."""

    __tablename__ = "reminder_settings"
    __table_args__ = (
        CheckConstraint("cardinality(offsets_minutes) BETWEEN 1 AND 3", name="offsets_count"),
        CheckConstraint("(quiet_start IS NULL) = (quiet_end IS NULL)", name="quiet_hours_complete"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    offsets_minutes: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), server_default=text("'{1440,120}'")
    )
    quiet_start: Mapped[Clock | None] = mapped_column(Time)
    quiet_end: Mapped[Clock | None] = mapped_column(Time)
    # {lang: text} with {name} {service} {time} {business}, checked on the way in.
    texts: Mapped[dict[str, str]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # {"name", "language"} of the owner's approved WhatsApp template, or NULL.
    whatsapp_template: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReminderBooking(Base):
    """Projection of `booking.created|cancelled|marked`: the booking ids are the provider's,
    unique in a workspace. A cancellation that overtakes its creation (they travel on
    different queues) leaves a cancelled row with no start; `source_updated_at` keeps the
    newest. What became of the booking feeds the stats: the owner's attendance mark, and
    whether it was cancelled or moved after a reminder had gone (migration 0013)."""

    __tablename__ = "reminder_bookings"
    __table_args__ = (
        CheckConstraint("status IN ('confirmed', 'cancelled')", name="status"),
        CheckConstraint("status = 'cancelled' OR start_at IS NOT NULL", name="start_known"),
        CheckConstraint("attendance IN ('attended', 'no_show')", name="attendance"),
        Index("ix_reminder_bookings_conversation_id", "conversation_id"),
        Index(
            "ix_reminder_bookings_workspace_confirmed",
            "workspace_id",
            "visitor_confirmed_at",
            postgresql_where=text("visitor_confirmed_at IS NOT NULL"),
        ),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True), primary_key=True)
    booking_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    source: Mapped[str | None] = mapped_column(String(20))
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(PGUUID(as_uuid=True))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(PGUUID(as_uuid=True))
    service: Mapped[str | None] = mapped_column(String(200))
    start_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    visitor_name: Mapped[str | None] = mapped_column(String(200))
    visitor_email: Mapped[str | None] = mapped_column(String(320))
    visitor_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source_updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    attendance: Mapped[str | None] = mapped_column(String(10))
    # When the attendance mark shown here was made (the newest `booking.marked` wins).
    attendance_source_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_after_reminder_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    moved_after_reminder_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReminderJob(Base):
    """One message to send about a booking: claimed `FOR UPDATE SKIP LOCKED` when due, and
    marked `sent` in the transaction that writes the message and its outbox event."""

    __tablename__ = "reminder_jobs"
    __table_args__ = (
        # One job per offset and appointment start: a moved booking's jobs for its new start
        # sit beside the ones sent for the old, which stay as the record of what went.
        UniqueConstraint(
            "workspace_id",
            "booking_id",
            "kind",
            "offset_minutes",
            "start_at",
            name="uq_reminder_jobs_one_per_start",
        ),
        CheckConstraint("kind IN ('reminder', 'confirmation', 'cancellation')", name="kind"),
        CheckConstraint(
            "status IN ('scheduled', 'sent', 'failed', 'skipped', 'cancelled')", name="status"
        ),
        CheckConstraint("offset_minutes >= 0", name="offset_not_negative"),
        # The scheduler's claim: due jobs only, oldest first.
        Index(
            "ix_reminder_jobs_due",
            "due_at",
            postgresql_where=text("status = 'scheduled'"),
        ),
        Index("ix_reminder_jobs_workspace_due", "workspace_id", "due_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        PGUUID(as_uuid=True), primary_key=True, default=uuid.uuid4
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True))
    booking_id: Mapped[str] = mapped_column(String(300))
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(PGUUID(as_uuid=True))
    kind: Mapped[str] = mapped_column(String(20))
    # Minutes before the appointment (0 for a confirmation), and the start it was planned for.
    offset_minutes: Mapped[int] = mapped_column(Integer)
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), server_default="scheduled")
    reason: Mapped[str | None] = mapped_column(Text)
    # The conversation message the reminder was written as (NULL for an e-mail).
    message_id: Mapped[uuid.UUID | None] = mapped_column(PGUUID(as_uuid=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # After an unexpected error the job waits until then before it is claimed again.
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
