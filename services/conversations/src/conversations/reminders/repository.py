"""Reads and writes of the reminder tables, on the unit of work's session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, not_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from conversations.db.models import AgentConversation, Contact, Conversation
from conversations.domain.reminders import PlannedJob
from conversations.reminders.models import ReminderBooking, ReminderJob, ReminderSettings


@dataclass(frozen=True, slots=True)
class JobFilter:
    status: str | None = None
    booking_id: str | None = None


class ReminderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- settings ---------------------------------------------------------------------------

    async def settings(self, workspace_id: uuid.UUID) -> ReminderSettings:
        """The stored row, or the defaults (not added to the session)."""
        row = await self.session.get(ReminderSettings, workspace_id, populate_existing=True)
        if row is not None:
            return row
        return ReminderSettings(
            workspace_id=workspace_id,
            enabled=True,
            offsets_minutes=[1440, 120],
            quiet_start=None,
            quiet_end=None,
            texts={},
            whatsapp_template=None,
        )

    async def save_settings(self, workspace_id: uuid.UUID, values: dict[str, Any]) -> None:
        stmt = insert(ReminderSettings).values(workspace_id=workspace_id, **values)
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[ReminderSettings.workspace_id],
                set_=values | {"updated_at": func.now()},
            )
        )

    # -- bookings ---------------------------------------------------------------------------

    async def booking(
        self, workspace_id: uuid.UUID, booking_id: str, *, lock: bool = False
    ) -> ReminderBooking | None:
        stmt = select(ReminderBooking).where(
            ReminderBooking.workspace_id == workspace_id, ReminderBooking.booking_id == booking_id
        )
        if lock:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def mark_visitor_confirmed(self, workspace_id: uuid.UUID, booking_id: str) -> None:
        """The visitor said they will come (the calendar holds it; the stats count it)."""
        await self.session.execute(
            update(ReminderBooking)
            .where(
                ReminderBooking.workspace_id == workspace_id,
                ReminderBooking.booking_id == booking_id,
            )
            .values(visitor_confirmed_at=func.now())
        )

    async def reminded(self, workspace_id: uuid.UUID, booking_id: str) -> bool:
        """Whether a reminder of this booking has gone (for what became of it after)."""
        found = await self.session.scalar(
            select(ReminderJob.id)
            .where(
                ReminderJob.workspace_id == workspace_id,
                ReminderJob.booking_id == booking_id,
                ReminderJob.kind == "reminder",
                ReminderJob.status == "sent",
            )
            .limit(1)
        )
        return found is not None

    async def chat_of_phone(
        self, workspace_id: uuid.UUID, phone: str
    ) -> tuple[uuid.UUID, uuid.UUID] | None:
        """(conversation, contact) of the workspace's latest WhatsApp or SMS chat with the
        contact whose phone the channel proved: where a booking made outside the platform
        for that number reaches the person."""
        row = (
            await self.session.execute(
                select(Conversation.id, Conversation.contact_id)
                .join(Contact, Contact.id == Conversation.contact_id)
                .where(
                    Conversation.workspace_id == workspace_id,
                    Conversation.channel.in_(("whatsapp", "sms")),
                    Contact.workspace_id == workspace_id,
                    Contact.phone == phone,
                    Contact.phone_verified_at.is_not(None),
                )
                .order_by(Conversation.last_activity_at.desc())
                .limit(1)
            )
        ).first()
        return (row.id, row.contact_id) if row is not None else None

    async def lock_booking_key(self, workspace_id: uuid.UUID, booking_id: str) -> None:
        """Serialise the events of one booking (created and cancelled travel on different
        queues) even before its row exists."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"reminders:{workspace_id}:{booking_id}"},
        )

    def add_booking(self, row: ReminderBooking) -> None:
        self.session.add(row)

    async def bookings(
        self, workspace_id: uuid.UUID, booking_ids: Sequence[str]
    ) -> dict[str, ReminderBooking]:
        if not booking_ids:
            return {}
        rows = await self.session.scalars(
            select(ReminderBooking).where(
                ReminderBooking.workspace_id == workspace_id,
                ReminderBooking.booking_id.in_(booking_ids),
            )
        )
        return {row.booking_id: row for row in rows}

    # -- jobs -------------------------------------------------------------------------------

    async def jobs_of(self, workspace_id: uuid.UUID, booking_id: str) -> list[ReminderJob]:
        rows = await self.session.scalars(
            select(ReminderJob)
            .where(ReminderJob.workspace_id == workspace_id, ReminderJob.booking_id == booking_id)
            .with_for_update()
        )
        return list(rows)

    async def put_job(
        self,
        workspace_id: uuid.UUID,
        booking_id: str,
        conversation_id: uuid.UUID | None,
        start: datetime,
        job: PlannedJob,
        *,
        replace: bool,
    ) -> None:
        """Insert the job planned for the appointment at `start`; with `replace`, an existing
        one of that start (any state) is planned afresh, else it is left as it is."""
        values = {
            "workspace_id": workspace_id,
            "booking_id": booking_id,
            "conversation_id": conversation_id,
            "kind": job.kind,
            "offset_minutes": job.offset_minutes,
            "start_at": start,
            "due_at": job.due_at,
            "status": job.status,
            "reason": job.reason,
        }
        stmt = insert(ReminderJob).values(id=uuid.uuid4(), **values)
        keys = ["workspace_id", "booking_id", "kind", "offset_minutes", "start_at"]
        if replace:
            fresh = values | {
                "message_id": None,
                "attempts": 0,
                "claimed_until": None,
                "updated_at": func.now(),
            }
            stmt = stmt.on_conflict_do_update(index_elements=keys, set_=fresh)
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=keys)
        await self.session.execute(stmt)

    async def cancel_scheduled(
        self,
        workspace_id: uuid.UUID,
        booking_id: str,
        reason: str,
        *,
        kind: str | None = None,
        keep_start: datetime | None = None,
        keep_offsets: Sequence[int] | None = None,
    ) -> int:
        """Cancel the booking's scheduled jobs, except (with `keep_start`) those planned for
        that start and (with `keep_offsets` too) at one of those offsets."""
        stmt = update(ReminderJob).where(
            ReminderJob.workspace_id == workspace_id,
            ReminderJob.booking_id == booking_id,
            ReminderJob.status == "scheduled",
        )
        if kind is not None:
            stmt = stmt.where(ReminderJob.kind == kind)
        if keep_start is not None:
            kept = ReminderJob.start_at == keep_start
            if keep_offsets is not None:
                kept = and_(kept, ReminderJob.offset_minutes.in_(list(keep_offsets)))
            stmt = stmt.where(not_(kept))
        result = await self.session.execute(
            stmt.values(status="cancelled", reason=reason, updated_at=func.now())
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def cancel_scheduled_in_conversation(
        self, workspace_id: uuid.UUID, conversation_id: uuid.UUID, reason: str
    ) -> int:
        """Cancel every job still to go to this conversation, whatever its booking."""
        result = await self.session.execute(
            update(ReminderJob)
            .where(
                ReminderJob.workspace_id == workspace_id,
                ReminderJob.conversation_id == conversation_id,
                ReminderJob.status == "scheduled",
            )
            .values(status="cancelled", reason=reason, updated_at=func.now())
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def claim_due(self, now: datetime, limit: int) -> list[ReminderJob]:
        """Due jobs no other scheduler holds, locked until this transaction ends: the claim,
        the message and the new status commit together or not at all."""
        rows = await self.session.scalars(
            select(ReminderJob)
            .where(
                ReminderJob.status == "scheduled",
                ReminderJob.due_at <= now,
                (ReminderJob.claimed_until.is_(None)) | (ReminderJob.claimed_until <= now),
            )
            .order_by(ReminderJob.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows)

    async def page(
        self, workspace_id: uuid.UUID, where: JobFilter, skip: int, limit: int
    ) -> tuple[list[ReminderJob], int]:
        conditions = [ReminderJob.workspace_id == workspace_id]
        if where.status is not None:
            conditions.append(ReminderJob.status == where.status)
        if where.booking_id is not None:
            conditions.append(ReminderJob.booking_id == where.booking_id)
        count = await self.session.scalar(
            select(func.count()).select_from(ReminderJob).where(*conditions)
        )
        rows = await self.session.scalars(
            select(ReminderJob)
            .where(*conditions)
            .order_by(ReminderJob.due_at.desc(), ReminderJob.id)
            .offset(skip)
            .limit(limit)
        )
        return list(rows), int(count or 0)

    # -- what a message needs ---------------------------------------------------------------

    async def conversation(self, conversation_id: uuid.UUID) -> Conversation | None:
        return await self.session.get(Conversation, conversation_id)

    async def contact_email(self, contact_id: uuid.UUID | None) -> str | None:
        if contact_id is None:
            return None
        return await self.session.scalar(select(Contact.email).where(Contact.id == contact_id))

    async def conversation_language(self, conversation_id: uuid.UUID) -> str | None:
        """The language the agent last spoke with the visitor in, if it did."""
        return await self.session.scalar(
            select(AgentConversation.memory["lang"].astext).where(
                AgentConversation.conversation_id == conversation_id
            )
        )
