"""The built-in calendar behind the provider interface: no outside account, no network.

Its event types are the workspace's own active services (projected from workspaces), its
availability comes from `domain.calendar`, and its bookings are rows of the connectors
schema. A booking is written together with its `booking.created` outbox event in one
transaction; the exclusion constraint on the held range, not a lock, settles a race for one
slot, so concurrent attempts never wait on each other longer than one insert.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError, IntegrityError

from connectors.db.models import Booking as BookingRow
from connectors.db.models import WorkspaceService
from connectors.db.uow import ConnectorsUnitOfWork
from connectors.domain import calendar
from connectors.domain.config import BuiltinConfig
from connectors.domain.errors import (
    ProviderNotFound,
    ProviderRejected,
    SlotNotBookable,
    SlotTaken,
)
from connectors.domain.scheduling import (
    AccountInfo,
    Booking,
    BookingRequest,
    ConnectorScope,
    EventType,
    Slot,
)
from shared.events import BookingCancelledV1, BookingCreatedV1

NAME = "builtin"
DEADLOCK = "40P01"  # Postgres's deadlock_detected
DEADLOCK_ATTEMPTS = 3
OVERLAP = "ex_bookings_builtin_no_overlap"
KEY = "ix_bookings_connector_idempotency_key"


def now_utc() -> datetime:
    return datetime.now(UTC)


def booking_of(row: BookingRow) -> Booking:
    return Booking(
        id=row.external_id,
        start=row.start_at,
        end=row.end_at,
        status="cancelled" if row.status == "cancelled" else "confirmed",
        event_type=row.event_type,
    )


class BuiltinProvider:
    name = NAME
    keeps_bookings = True  # this provider's rows are the bookings; nothing to mirror

    def __init__(
        self,
        config: BuiltinConfig,
        uow_factory: Callable[[], ConnectorsUnitOfWork],
        scope: ConnectorScope | None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.config = config
        self.uow_factory = uow_factory
        self._scope = scope
        self.clock = clock

    @property
    def scope(self) -> ConnectorScope:
        if self._scope is None:
            raise RuntimeError("the built-in calendar needs the connector's scope")
        return self._scope

    async def check(self) -> AccountInfo:
        return AccountInfo(name="Built-in calendar")

    async def event_types(self) -> list[EventType]:
        async with self.uow_factory() as uow:
            services = await uow.services.bookable(self.scope.workspace_id)
        return [
            EventType(
                id=str(s.service_id),
                name=s.name,
                duration_minutes=s.duration_minutes,
                description=s.description,
            )
            for s in services
        ]

    async def _service(self, uow: ConnectorsUnitOfWork, event_type: str) -> WorkspaceService:
        try:
            service_id = uuid.UUID(event_type)
        except ValueError:
            service_id = None
        service = (
            await uow.services.bookable_one(self.scope.workspace_id, service_id)
            if service_id is not None
            else None
        )
        if service is None:
            raise ProviderRejected(
                NAME, "event_type must be the id of one of the workspace's active services"
            )
        return service

    async def availability(
        self, event_type: str, start: date, end: date, timezone: str
    ) -> list[Slot]:
        zone = ZoneInfo(timezone)
        # Only days between yesterday and the horizon can hold a slot; clamping to them also
        # keeps the date arithmetic below far from the calendar's ends.
        today = self.clock().astimezone(zone).date()
        start = max(start, today - timedelta(days=1))
        end = min(end, today + timedelta(days=self.config.max_days_ahead))
        async with self.uow_factory() as uow:
            service = await self._service(uow, event_type)
            if start > end:
                return []
            # Held time reaching into the asked days, with a day's margin for buffers.
            held = await uow.bookings.held(
                self.scope.workspace_id,
                datetime.combine(start - timedelta(days=1), datetime.min.time(), zone),
                datetime.combine(end + timedelta(days=2), datetime.min.time(), zone),
            )
        slots = calendar.free_slots(
            self.config,
            zone=zone,
            duration_minutes=service.duration_minutes,
            first_day=start,
            last_day=end,
            busy=[calendar.Interval(a, b) for a, b in held],
            now=self.clock(),
        )
        return [Slot(start=c.start.astimezone(zone), end=c.end.astimezone(zone)) for c in slots]

    async def create_booking(self, request: BookingRequest) -> Booking:
        """Book, or raise SlotTaken when the time (buffers included) is held already.

        Racers inserting overlapping ranges each wait on the other's uncommitted row for the
        exclusion constraint, and Postgres breaks such a cycle by aborting one of them
        (deadlock_detected, seen with fifty at once on two cores): that one is tried again,
        and then meets the time held, or books it if the others gave it up; contested still
        after that, it is taken."""
        for _ in range(DEADLOCK_ATTEMPTS):
            try:
                return await self._create_booking(request)
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) != DEADLOCK:
                    raise
        raise SlotTaken()

    async def _create_booking(self, request: BookingRequest) -> Booking:
        scope = self.scope
        async with self.uow_factory() as uow:
            service = await self._service(uow, request.event_type)
            try:
                slot = calendar.offered(
                    self.config,
                    zone=ZoneInfo(scope.timezone),
                    duration_minutes=service.duration_minutes,
                    start=request.start.astimezone(UTC),
                    now=self.clock(),
                )
            except calendar.SlotNotOffered as exc:
                raise SlotNotBookable(str(exc)) from None
            # A time already taken is answered without inserting: an insert would wait on
            # every racer still in flight before failing. The constraint decides the rest.
            if await uow.bookings.held(scope.workspace_id, slot.held.start, slot.held.end):
                raise SlotTaken()
            row_id = uuid.uuid4()
            row = BookingRow(
                id=row_id,
                connector_id=scope.connector_id,
                workspace_id=scope.workspace_id,
                provider=NAME,
                external_id=str(row_id),
                idempotency_key=request.idempotency_key,
                status="confirmed",
                source="platform",
                event_type=str(service.service_id),
                start_at=slot.start,
                end_at=slot.end,
                held_from=slot.held.start,
                held_until=slot.held.end,
                visitor_name=request.visitor.name,
                visitor_email=request.visitor.email,
                visitor_phone=request.visitor.phone,
                notes=request.notes,
                conversation_id=request.conversation_id,
                contact_id=request.contact_id,
            )
            uow.bookings.add(row)
            try:
                await uow.session.flush()
            except IntegrityError as exc:
                if OVERLAP in str(exc.orig) or KEY in str(exc.orig):
                    # Taken, or taken by a request with this very key (the index holds the
                    # key of live bookings only): the caller tells a conflict from a replay
                    # by looking the key up.
                    raise SlotTaken() from None
                raise
            else:
                await uow.emit(
                    BookingCreatedV1(
                        workspace_id=scope.workspace_id,
                        connector_id=scope.connector_id,
                        provider=NAME,
                        booking_id=row.external_id,
                        event_type=row.event_type,
                        start=slot.start,
                        end=slot.end,
                        visitor_name=request.visitor.name,
                        visitor_email=request.visitor.email,
                        visitor_phone=request.visitor.phone,
                        source="platform",
                        conversation_id=request.conversation_id,
                        contact_id=request.contact_id,
                    )
                )
                await uow.commit()
                return booking_of(row)

    async def cancel_booking(self, booking_id: str, reason: str | None) -> None:
        scope = self.scope
        async with self.uow_factory() as uow:
            row = await uow.bookings.by_external_id(scope.connector_id, booking_id, lock=True)
            if row is None:
                raise ProviderNotFound(NAME, "no such booking")
            if row.status == "cancelled":
                return
            row.status = "cancelled"  # the constraint stops counting it: the time is free
            row.updated_at = self.clock()
            await uow.session.flush()
            await uow.emit(
                BookingCancelledV1(
                    workspace_id=scope.workspace_id,
                    connector_id=scope.connector_id,
                    provider=NAME,
                    booking_id=booking_id,
                    reason=reason,
                    source="platform",
                )
            )
            await uow.commit()
