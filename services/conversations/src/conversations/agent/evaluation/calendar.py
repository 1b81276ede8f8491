"""An in-memory calendar with weekly hours: the evaluation's environment, whose end state
(the bookings) is what a dialogue is scored on."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from conversations.agent.calendar import (
    Booked,
    CalendarUnavailable,
    EventType,
    OpeningHours,
    Slot,
    SlotTaken,
    Upcoming,
)
from conversations.domain.reminders import VISITOR


@dataclass
class BookingRecord:
    id: str
    event_type: str
    start: datetime
    name: str
    conversation_id: uuid.UUID
    cancelled: bool = False
    contact_id: uuid.UUID | None = None
    email: str | None = None
    phone: str | None = None
    notes: str | None = None


@dataclass
class MemoryCalendar:
    timezone: str
    durations: dict[str, int]  # event type -> minutes
    open_days: tuple[int, ...] = (0, 1, 2, 3, 4)  # weekday numbers
    opens: time = time(9, 0)
    closes: time = time(17, 0)
    step_minutes: int = 60
    full_days: set[date] = field(default_factory=set)
    closed_dates: set[date] = field(default_factory=set)
    horizon_days: int | None = 60
    hours_known: bool = True  # False: a provider that cannot tell its hours (Calendly...)
    down: bool = False
    bookings: list[BookingRecord] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _keys: dict[str, BookingRecord] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def active(self) -> list[BookingRecord]:
        return [b for b in self.bookings if not b.cancelled]

    def take(self, start: datetime) -> None:
        """Someone else books this time (a slot taken mid-dialogue)."""
        self.bookings.append(
            BookingRecord(f"other-{next(self._ids)}", "*", start, "Someone else", uuid.uuid4())
        )

    def _busy(self, start: datetime) -> bool:
        return any(b.start == start for b in self.active())

    def _check(self, call: str) -> None:
        self.calls.append(call)
        if self.down:
            raise CalendarUnavailable("calendar is down")

    async def event_types(self) -> list[EventType]:
        self._check("event_types")
        return [EventType(id=k, name=k, duration_minutes=v) for k, v in self.durations.items()]

    def _open(self, day: date) -> bool:
        return day.weekday() in self.open_days and day not in self.closed_dates

    async def hours(self) -> OpeningHours:
        self._check("hours")
        if not self.hours_known:
            return OpeningHours(known=False)
        ranges = ((self.opens, self.closes),)
        return OpeningHours(
            known=True,
            timezone=self.timezone,
            weekly={d: ranges for d in self.open_days},
            overrides={d: () for d in self.closed_dates},
            horizon_days=self.horizon_days,
        )

    async def availability(self, event_type: str, start: date, end: date) -> list[Slot]:
        self._check("availability")
        minutes = self.durations.get(event_type, 60)
        slots: list[Slot] = []
        day = start
        while day <= end:
            if self._open(day) and day not in self.full_days and not self._beyond(day):
                at = datetime.combine(day, self.opens, self.zone)
                last = datetime.combine(day, self.closes, self.zone) - timedelta(minutes=minutes)
                while at <= last:
                    if not self._busy(at):
                        slots.append(Slot(start=at, end=at + timedelta(minutes=minutes)))
                    at += timedelta(minutes=self.step_minutes)
            day += timedelta(days=1)
        return slots

    today: date | None = None  # the dialogue's local today, for the horizon

    def _beyond(self, day: date) -> bool:
        return (
            self.horizon_days is not None
            and self.today is not None
            and day > self.today + timedelta(days=self.horizon_days)
        )

    async def book(
        self,
        event_type: str,
        start: datetime,
        *,
        name: str,
        email: str | None,
        phone: str | None,
        idempotency_key: str,
        conversation_id: uuid.UUID,
        contact_id: uuid.UUID | None = None,
        notes: str | None = None,
    ) -> Booked:
        self._check("book")
        if idempotency_key in self._keys and not self._keys[idempotency_key].cancelled:
            record = self._keys[idempotency_key]
            return Booked(id=record.id, start=record.start)
        if self._busy(start):
            raise SlotTaken("slot taken")
        record = BookingRecord(
            f"bk-{next(self._ids)}",
            event_type,
            start,
            name,
            conversation_id,
            contact_id=contact_id,
            email=email,
            phone=phone,
            notes=notes,
        )
        self.bookings.append(record)
        self._keys[idempotency_key] = record
        return Booked(id=record.id, start=start)

    def add_earlier(self, event_type: str, start: datetime, contact_id: uuid.UUID) -> str:
        """A booking this contact made in another conversation."""
        record = BookingRecord(
            f"bk-{next(self._ids)}", event_type, start, "Ana", uuid.uuid4(), contact_id=contact_id
        )
        self.bookings.append(record)
        return record.id

    async def upcoming(self, contact_id: uuid.UUID) -> list[Upcoming]:
        self._check("upcoming")
        return [
            Upcoming(id=b.id, event_type=b.event_type, start=b.start)
            for b in self.active()
            if b.contact_id == contact_id
        ]

    confirmed: set[str] = field(default_factory=set)

    async def confirm(self, booking_id: str) -> None:
        self._check("confirm")
        self.confirmed.add(booking_id)

    cancel_reasons: dict[str, str] = field(default_factory=dict)

    async def cancel(self, booking_id: str, reason: str = VISITOR) -> None:
        self._check("cancel")
        self.cancel_reasons[booking_id] = reason
        for b in self.bookings:
            if b.id == booking_id:
                b.cancelled = True


CODE = "246810"  # the one-time code every harness e-mail carries


@dataclass
class MemoryIdentity:
    """The web chat's identity checks in memory: a code "mailed" only to an address on file,
    the same answer either way, five wrong tries lock it; no per-address booking limit."""

    on_file: dict[str, uuid.UUID]  # e-mail -> contact
    sent_to: list[str] = field(default_factory=list)
    _pending: uuid.UUID | None = None
    _tries: int = 0

    async def request_code(self, email: str, claim: bool = False) -> str:
        contact = self.on_file.get(email.lower())
        if contact is None and claim:
            contact = self.on_file[email.lower()] = uuid.uuid4()
        self._pending, self._tries = contact, 0
        if contact is not None:
            self.sent_to.append(email.lower())
        return "sent_if_known"

    async def verify_code(self, code: str) -> tuple[str, uuid.UUID | None]:
        if self._tries >= 5:
            return "locked", None
        if code == CODE and self._pending is not None:
            contact, self._pending = self._pending, None
            return "verified", contact
        self._tries += 1
        return ("locked" if self._tries >= 5 else "wrong"), None

    async def booking_allowed(self) -> bool:
        return True

    async def record_booking(self) -> None:
        return None
