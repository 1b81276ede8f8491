"""What the rest of the platform asks of the active connector: event types, availability,
bookings and cancellations. Provider calls happen outside any database transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from connectors.db.models import Booking as BookingRow
from connectors.db.repositories import BookingFilter
from connectors.domain.bookings import BookingMarks, MarksChange, apply_marks
from connectors.domain.config import AnyConfig
from connectors.domain.errors import BookingNotFound, BookingNotLive, ProviderNotFound, SlotTaken
from connectors.domain.scheduling import (
    BookingRequest,
    ConnectorScope,
    EventType,
    Slot,
    Visitor,
)
from connectors.providers import ProviderFactory, SchedulingProvider
from connectors.usecases.connectors import (
    UowFactory,
    active_connector,
    config_from,
    config_of,
    workspace_of,
)
from shared.crypto import Vault
from shared.events import BookingCancelledV1, BookingCreatedV1, BookingMarkedV1
from shared.tokens import Principal


@dataclass(frozen=True)
class ActiveContext:
    connector_id: uuid.UUID
    workspace_id: uuid.UUID
    provider: str
    timezone: str
    config: AnyConfig

    def client(self, providers: ProviderFactory) -> SchedulingProvider:
        scope = ConnectorScope(self.connector_id, self.workspace_id, self.timezone)
        return providers.build(self.config, scope)


async def _active(uow_factory: UowFactory, vault: Vault, principal: Principal) -> ActiveContext:
    async with uow_factory() as uow:
        if principal.user_id is not None:
            row = await uow.connectors.active_context(principal.user_id)
            if row is not None:
                return ActiveContext(
                    row.connector_id,
                    row.workspace_id,
                    row.provider,
                    row.timezone,
                    config_from(vault, row.config_encrypted),
                )
        # Not found: the reason (no workspace yet, no active connector) as the API says it.
        workspace, connector = await active_connector(uow, principal)
        return ActiveContext(
            connector.id,
            workspace.workspace_id,
            connector.provider,
            workspace.timezone,
            config_of(connector, vault),
        )


async def list_event_types(
    uow_factory: UowFactory, vault: Vault, providers: ProviderFactory, principal: Principal
) -> list[EventType]:
    ctx = await _active(uow_factory, vault, principal)
    return await ctx.client(providers).event_types()


async def find_availability(
    uow_factory: UowFactory,
    vault: Vault,
    providers: ProviderFactory,
    principal: Principal,
    event_type: str,
    start: date,
    end: date,
) -> tuple[str, list[Slot]]:
    """Free slots from `start` to `end` (whole days, inclusive) in the workspace's timezone."""
    ctx = await _active(uow_factory, vault, principal)
    slots = await ctx.client(providers).availability(event_type, start, end, ctx.timezone)
    return ctx.timezone, sorted(slots, key=lambda s: s.start)


@dataclass(frozen=True)
class BookingOutcome:
    booking: BookingRow  # as stored: the answer shows what the calendar holds now
    replayed: bool


async def _stored(uow_factory: UowFactory, connector_id: uuid.UUID, external_id: str) -> BookingRow:
    async with uow_factory() as uow:
        row = await uow.bookings.by_external_id(connector_id, external_id)
    if row is None:  # written by the provider or by us a moment ago; never deleted since
        raise RuntimeError(f"booking {external_id} is not stored")
    return row


async def create_booking(
    uow_factory: UowFactory,
    vault: Vault,
    providers: ProviderFactory,
    principal: Principal,
    *,
    event_type: str,
    start: datetime,
    visitor: Visitor,
    staff_id: str | None,
    notes: str | None,
    idempotency_key: str | None,
    conversation_id: uuid.UUID | None,
    contact_id: uuid.UUID | None = None,
) -> BookingOutcome:
    """Book, or answer the live booking already made with this idempotency key.

    A key names the live booking made with it. Once that booking is cancelled the key no
    longer answers for it: the same request books the time again (a visitor who cancelled
    and picked the same time again), and a provider that de-duplicates by key is sent a
    key of its own for this rebooking, or it would answer with the cancelled booking.
    """
    ctx = await _active(uow_factory, vault, principal)
    key = idempotency_key or str(uuid.uuid4())
    rebooking = 0
    if idempotency_key:
        async with uow_factory() as uow:
            existing = await uow.bookings.by_key(ctx.connector_id, key)
            if existing is not None:
                return BookingOutcome(existing, True)
            rebooking = await uow.bookings.cancelled_with_key(ctx.connector_id, key)

    local_start = start.astimezone(ZoneInfo(ctx.timezone))
    provider = ctx.client(providers)
    try:
        booking = await provider.create_booking(
            BookingRequest(
                event_type=event_type,
                start=local_start,
                visitor=visitor,
                timezone=ctx.timezone,
                idempotency_key=key,
                staff_id=staff_id,
                notes=notes,
                conversation_id=conversation_id,
                contact_id=contact_id,
                rebooking=rebooking,
            )
        )
    except SlotTaken:
        # A request with the same key may have won this very slot a moment ago: that is a
        # replay of it, not a conflict.
        if not idempotency_key:
            raise
        async with uow_factory() as uow:
            existing = await uow.bookings.by_key(ctx.connector_id, key)
        if existing is None:
            raise
        return BookingOutcome(existing, True)
    if booking.status != "confirmed":
        raise BookingNotLive()
    if provider.keeps_bookings:  # stored and announced by the provider in its transaction
        return BookingOutcome(await _stored(uow_factory, ctx.connector_id, booking.id), False)
    # Two requests with one key may both reach this point; the loser of the insert race
    # finds the winner's row on its second pass and answers with it.
    for attempt in (1, 2):
        try:
            async with uow_factory() as uow:
                row = await uow.bookings.by_key(ctx.connector_id, key)
                if row is not None:  # the same key raced us and won: answer with its booking
                    return BookingOutcome(row, True)
                row = await uow.bookings.by_external_id(ctx.connector_id, booking.id, lock=True)
                if row is None:
                    uow.bookings.add(
                        BookingRow(
                            id=uuid.uuid4(),
                            connector_id=ctx.connector_id,
                            workspace_id=ctx.workspace_id,
                            provider=ctx.provider,
                            external_id=booking.id,
                            idempotency_key=key,
                            status="confirmed",
                            source="platform",
                            event_type=booking.event_type or event_type,
                            start_at=booking.start,
                            end_at=booking.end,
                            visitor_name=visitor.name,
                            visitor_email=visitor.email,
                            visitor_phone=visitor.phone,
                            notes=notes,
                            conversation_id=conversation_id,
                            contact_id=contact_id,
                        )
                    )
                elif row.status == "cancelled":
                    # The provider answered with a booking we saw cancelled: it holds nothing.
                    raise BookingNotLive()
                else:  # the provider's webhook arrived before us: add what only we know
                    row.idempotency_key = key
                    row.source = "platform"
                    row.visitor_name = visitor.name
                    row.visitor_email = visitor.email or row.visitor_email
                    row.visitor_phone = visitor.phone or row.visitor_phone
                    row.notes = notes
                    row.conversation_id = conversation_id
                    row.contact_id = contact_id
                    row.updated_at = datetime.now(UTC)
                await uow.emit(
                    BookingCreatedV1(
                        workspace_id=ctx.workspace_id,
                        connector_id=ctx.connector_id,
                        provider=ctx.config.provider,
                        booking_id=booking.id,
                        event_type=booking.event_type or event_type,
                        start=booking.start,
                        end=booking.end,
                        visitor_name=visitor.name,
                        visitor_email=visitor.email,
                        visitor_phone=visitor.phone,
                        source="platform",
                        conversation_id=conversation_id,
                        contact_id=contact_id,
                    )
                )
                await uow.commit()
            break
        except IntegrityError:
            if attempt == 2:
                raise
    return BookingOutcome(await _stored(uow_factory, ctx.connector_id, booking.id), False)


async def cancel_booking(
    uow_factory: UowFactory,
    vault: Vault,
    providers: ProviderFactory,
    principal: Principal,
    booking_id: str,
    reason: str | None,
) -> None:
    ctx = await _active(uow_factory, vault, principal)
    async with uow_factory() as uow:
        row = await uow.bookings.by_external_id(ctx.connector_id, booking_id)
        if row is not None and row.status == "cancelled":
            return  # already done: cancelling twice changes nothing
    provider = ctx.client(providers)
    try:
        await provider.cancel_booking(booking_id, reason)
    except ProviderNotFound:
        raise BookingNotFound() from None
    if provider.keeps_bookings:
        return
    async with uow_factory() as uow:
        row = await uow.bookings.by_external_id(ctx.connector_id, booking_id, lock=True)
        if row is not None:
            if row.status == "cancelled":
                return
            row.status = "cancelled"
            row.updated_at = datetime.now(UTC)
        await uow.emit(
            BookingCancelledV1(
                workspace_id=ctx.workspace_id,
                connector_id=ctx.connector_id,
                provider=ctx.config.provider,
                booking_id=booking_id,
                reason=reason,
                source="platform",
            )
        )
        await uow.commit()


@dataclass(frozen=True)
class BookingQuery:
    upcoming: bool = False
    day: date | None = None  # a local day of the workspace
    event_type: str | None = None
    status: str | None = None
    contact_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None


async def list_bookings(
    uow_factory: UowFactory,
    principal: Principal,
    query: BookingQuery,
    skip: int,
    limit: int,
    now: datetime | None = None,
) -> tuple[str | None, Sequence[BookingRow], int]:
    """The workspace's bookings kept here, whatever the provider, by start time."""
    async with uow_factory() as uow:
        workspace = await workspace_of(uow, principal)
        if workspace is None:
            return None, [], 0
        zone = ZoneInfo(workspace.timezone)
        where = BookingFilter(
            event_type=query.event_type,
            status=query.status,
            contact_id=query.contact_id,
            conversation_id=query.conversation_id,
        )
        if query.day is not None:
            where = replace(
                where,
                starts_from=datetime.combine(query.day, time(0), zone),
                starts_before=datetime.combine(query.day + timedelta(days=1), time(0), zone),
            )
        moment = now or datetime.now(UTC)
        if query.upcoming and (where.starts_from is None or where.starts_from < moment):
            where = replace(where, starts_from=moment)
        rows, count = await uow.bookings.page(workspace.workspace_id, where, skip, limit)
        return workspace.timezone, rows, count


async def mark_booking(
    uow_factory: UowFactory,
    principal: Principal,
    booking_id: str,
    change: MarksChange,
    now: datetime | None = None,
) -> BookingRow:
    """The owner's marks (attendance) and the visitor's confirmation on a booking of the
    owner's workspace, whichever connector it came through; any other is not found. A change
    is announced (`booking.marked`) in the same transaction."""
    async with uow_factory() as uow:
        workspace = await workspace_of(uow, principal)
        if workspace is None:
            raise BookingNotFound("Booking not found")
        active = await uow.connectors.active(workspace.workspace_id)
        row = await uow.bookings.of_workspace(
            workspace.workspace_id,
            booking_id,
            prefer_connector=active.id if active is not None else None,
            lock=True,
        )
        if row is None:
            raise BookingNotFound("Booking not found")
        moment = now or datetime.now(UTC)
        marks = apply_marks(
            BookingMarks(
                status=row.status,
                start=row.start_at,
                visitor_confirmed_at=row.visitor_confirmed_at,
                attendance=row.attendance,  # type: ignore[arg-type]  # the check constraint
            ),
            change,
            moment,
        )
        if (marks.attendance, marks.visitor_confirmed_at) != (
            row.attendance,
            row.visitor_confirmed_at,
        ):
            row.attendance = marks.attendance
            row.visitor_confirmed_at = marks.visitor_confirmed_at
            row.updated_at = moment
            await uow.emit(
                BookingMarkedV1(
                    workspace_id=row.workspace_id,
                    connector_id=row.connector_id,
                    provider=row.provider,  # type: ignore[arg-type]  # the column's values
                    booking_id=row.external_id,
                    attendance=row.attendance,  # type: ignore[arg-type]  # the check constraint
                    visitor_confirmed_at=row.visitor_confirmed_at,
                )
            )
            await uow.commit()
        return row
