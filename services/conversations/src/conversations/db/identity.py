"""Identity codes and the web chat booking counter: queries and writes (rules in
domain/identity.py, use cases in usecases/identity.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import exists, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from conversations.db.models import Contact, Conversation, IdentityCode, WebchatBookingCount
from conversations.reminders.models import ReminderBooking


class IdentityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_target(self, workspace_id: uuid.UUID, target: str) -> None:
        """Serialise requests for one target in a workspace (from any conversation), so the
        per-target hourly count holds under concurrent requests."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
            {"k": f"identity:{workspace_id}:{target}"},
        )

    async def requests_since(self, conversation_id: uuid.UUID, since: datetime) -> int:
        return (
            await self.session.scalar(
                select(func.count())
                .select_from(IdentityCode)
                .where(
                    IdentityCode.conversation_id == conversation_id,
                    IdentityCode.created_at > since,
                )
            )
            or 0
        )

    async def target_requests_since(
        self, workspace_id: uuid.UUID, target: str, since: datetime
    ) -> int:
        return (
            await self.session.scalar(
                select(func.count())
                .select_from(IdentityCode)
                .where(
                    IdentityCode.workspace_id == workspace_id,
                    IdentityCode.target == target,
                    IdentityCode.created_at > since,
                )
            )
            or 0
        )

    async def holder(self, workspace_id: uuid.UUID, channel: str, target: str) -> Contact | None:
        """The workspace's contact holding this e-mail (any case) or phone: one that has it
        verified first, then one with a booking conversations knows of, then the oldest.
        Anyone may claim an address in a chat; a contact with bookings is the one the visitor
        means ("the e-mail on my booking"), not a chat that typed the address earlier."""
        if channel == "email":
            held = func.lower(Contact.email) == target.lower()
            stamp = Contact.email_verified_at
        else:
            held = Contact.phone == target
            stamp = Contact.phone_verified_at
        return await self.session.scalar(
            select(Contact)
            .where(Contact.workspace_id == workspace_id, held)
            .order_by(
                stamp.is_(None),
                ~exists().where(
                    ReminderBooking.workspace_id == workspace_id,
                    ReminderBooking.contact_id == Contact.id,
                ),
                Contact.created_at,
                Contact.id,
            )
            .limit(1)
        )

    async def latest(self, conversation_id: uuid.UUID) -> IdentityCode | None:
        """The conversation's newest code, locked (a new request replaces older codes)."""
        return await self.session.scalar(
            select(IdentityCode)
            .where(IdentityCode.conversation_id == conversation_id)
            .order_by(IdentityCode.created_at.desc(), IdentityCode.id.desc())
            .limit(1)
            .with_for_update()
        )

    async def proven_contact(self, conversation_id: uuid.UUID) -> uuid.UUID | None:
        """The contact a code used in this conversation proved, if the conversation still
        belongs to it."""
        found: uuid.UUID | None = await self.session.scalar(
            select(PROVEN_CONTACT).where(Conversation.id == conversation_id)
        )
        return found

    async def webchat_bookings(self, workspace_id: uuid.UUID, address: str, day: date) -> int:
        return (
            await self.session.scalar(
                select(WebchatBookingCount.bookings).where(
                    WebchatBookingCount.workspace_id == workspace_id,
                    WebchatBookingCount.address == address,
                    WebchatBookingCount.day == day,
                )
            )
            or 0
        )

    async def count_webchat_booking(self, workspace_id: uuid.UUID, address: str, day: date) -> int:
        values = insert(WebchatBookingCount).values(
            workspace_id=workspace_id, address=address, day=day, bookings=1
        )
        stmt = values.on_conflict_do_update(
            index_elements=[
                WebchatBookingCount.workspace_id,
                WebchatBookingCount.address,
                WebchatBookingCount.day,
            ],
            set_={"bookings": WebchatBookingCount.bookings + 1},
        ).returning(WebchatBookingCount.bookings)
        return int((await self.session.execute(stmt)).scalar_one())


# The contact a code used in a conversation proved, while the conversation still belongs to
# it; correlated to `conversations`, so the agent's turn reads it with the rest.
PROVEN_CONTACT = (
    select(IdentityCode.contact_id)
    .where(
        IdentityCode.conversation_id == Conversation.id,
        IdentityCode.used_at.is_not(None),
        IdentityCode.contact_id == Conversation.contact_id,
    )
    .order_by(IdentityCode.used_at.desc())
    .limit(1)
    .correlate(Conversation)
    .scalar_subquery()
)
