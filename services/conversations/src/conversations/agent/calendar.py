"""The agent's view of scheduling: the connectors service's active-connector API.

Called service to service with a short-lived internal token for the workspace's owner, so
connectors applies its own authorization (complete mediation): the agent can only ever
reach the calendar of the conversation's workspace.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Protocol

from conversations.connectors import Answer, Connectors, ConnectorsUnreachable
from conversations.domain.reminders import VISITOR


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class EventType:
    id: str
    name: str
    duration_minutes: int | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Booked:
    id: str
    start: datetime
    end: datetime | None = None
    status: str | None = None  # what the calendar says it holds ("confirmed")


@dataclass(frozen=True, slots=True)
class Upcoming:
    id: str
    event_type: str
    start: datetime


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """The calendar's opening hours, wall-clock in the workspace's zone; `known` is False for
    providers that cannot tell (the free times are then the only truth)."""

    known: bool
    timezone: str | None = None
    weekly: dict[int, tuple[tuple[time, time], ...]] = field(default_factory=dict)  # 0=Monday
    overrides: dict[date, tuple[tuple[time, time], ...]] = field(default_factory=dict)  # ()=closed
    horizon_days: int | None = None
    min_notice_minutes: int | None = None

    def ranges_on(self, day: date) -> tuple[tuple[time, time], ...]:
        if day in self.overrides:
            return self.overrides[day]
        return self.weekly.get(day.weekday(), ())


class CalendarError(Exception):
    """Base of what the calendar can answer besides a result."""


class CalendarUnavailable(CalendarError):
    """Down, slow or failing: nothing can be promised, a person takes over."""


class NoActiveConnector(CalendarError):
    """The workspace has no active connector (any more)."""


class SlotTaken(CalendarError):
    """The slot is no longer free."""


class CalendarRejected(CalendarError):
    """The calendar refused the request for another reason (readable message)."""


class Calendar(Protocol):
    async def event_types(self) -> list[EventType]: ...

    async def availability(self, event_type: str, start: date, end: date) -> list[Slot]: ...

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
    ) -> Booked: ...

    async def upcoming(self, contact_id: uuid.UUID) -> list[Upcoming]: ...

    async def confirm(self, booking_id: str) -> None: ...

    async def cancel(self, booking_id: str, reason: str = VISITOR) -> None: ...

    async def hours(self) -> OpeningHours: ...


class ConnectorsCalendar:
    """The connectors service's calendar API for one workspace owner."""

    def __init__(self, connectors: Connectors, owner_id: uuid.UUID) -> None:
        self.connectors = connectors
        self.owner_id = owner_id

    async def _call(self, method: str, path: str, **kwargs: Any) -> Answer:
        try:
            response = await self.connectors.request(self.owner_id, method, path, **kwargs)
        except ConnectorsUnreachable as exc:
            raise CalendarUnavailable(f"connectors unreachable: {exc}") from exc
        if response.status_code < 400:
            return response
        detail = _detail(response)
        if response.status_code == 404 and path in ("/event-types", "/availability", "/hours"):
            raise NoActiveConnector(detail)
        if response.status_code == 409:
            raise SlotTaken(detail)
        if response.status_code in (422, 404, 400):
            raise CalendarRejected(detail)
        raise CalendarUnavailable(f"connectors answered {response.status_code}: {detail}")

    async def event_types(self) -> list[EventType]:
        body = (await self._call("GET", "/event-types")).json()
        return [
            EventType(
                id=str(item["id"]),
                name=item["name"],
                duration_minutes=item.get("duration_minutes"),
                description=item.get("description"),
            )
            for item in body.get("data", [])
        ]

    async def availability(self, event_type: str, start: date, end: date) -> list[Slot]:
        params = {"event_type": event_type, "start": start.isoformat(), "end": end.isoformat()}
        body = (await self._call("GET", "/availability", params=params)).json()
        return [
            Slot(
                start=datetime.fromisoformat(item["start"]),
                end=datetime.fromisoformat(item["end"]) if item.get("end") else None,
            )
            for item in body.get("data", [])
        ]

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
        payload: dict[str, Any] = {
            "event_type": event_type,
            "start": start.isoformat(),
            "name": name,
            "idempotency_key": idempotency_key,
            "conversation_id": str(conversation_id),
        }
        if email:
            payload["email"] = email
        if phone:
            payload["phone"] = phone
        if contact_id:
            payload["contact_id"] = str(contact_id)
        if notes:
            payload["notes"] = notes[:1000]
        body = (await self._call("POST", "/bookings", json=payload)).json()
        return Booked(
            id=str(body["id"]),
            start=datetime.fromisoformat(body["start"]),
            end=datetime.fromisoformat(body["end"]) if body.get("end") else None,
            status=body.get("status"),
        )

    async def upcoming(self, contact_id: uuid.UUID) -> list[Upcoming]:
        """The contact's confirmed bookings that have not started (their own, any chat)."""
        params = {"contact_id": str(contact_id), "status": "confirmed", "upcoming": "true"}
        body = (await self._call("GET", "/bookings", params=params)).json()
        return [
            Upcoming(
                id=str(item["id"]),
                event_type=str(item.get("event_type") or ""),
                start=datetime.fromisoformat(item["start"]),
            )
            for item in body.get("data", [])
        ]

    async def cancel(self, booking_id: str, reason: str = VISITOR) -> None:
        """`reason`: VISITOR, or MOVED when the visitor took another time instead (no notice
        goes to the visitor for either: the agent's reply says it)."""
        await self._call("DELETE", f"/bookings/{booking_id}", params={"reason": reason})

    async def confirm(self, booking_id: str) -> None:
        """The visitor said they will come (their answer to a reminder)."""
        await self._call("PATCH", f"/bookings/{booking_id}", json={"visitor_confirmed": True})

    async def hours(self) -> OpeningHours:
        """GET /hours: weekly ranges and upcoming overrides, or `known=False` for providers
        that cannot tell. An answer that cannot be read is CalendarUnavailable."""
        body = (await self._call("GET", "/hours")).json()
        try:
            return _opening_hours(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise CalendarUnavailable(f"connectors answered unreadable hours: {exc!r}") from exc


def _clock(value: str) -> time:
    # "24:00" closes a range at the end of the day; a time of day cannot say it otherwise.
    return time.max if value == "24:00" else time.fromisoformat(value)


def _ranges(items: list[dict[str, Any]]) -> tuple[tuple[time, time], ...]:
    return tuple((_clock(r["start"]), _clock(r["end"])) for r in items)


def _opening_hours(body: dict[str, Any]) -> OpeningHours:
    if not body["known"]:
        return OpeningHours(known=False)
    weekly: dict[int, tuple[tuple[time, time], ...]] = {}
    for item in body.get("weekly") or []:
        day = int(item["weekday"])
        if not 0 <= day <= 6:
            raise ValueError(f"weekday {day}")
        weekly[day] = weekly.get(day, ()) + _ranges([item])
    return OpeningHours(
        known=True,
        timezone=body.get("timezone"),
        weekly={day: tuple(sorted(ranges)) for day, ranges in weekly.items()},
        overrides={
            date.fromisoformat(o["date"]): _ranges(o.get("ranges") or [])
            for o in body.get("overrides") or []
        },
        horizon_days=body.get("horizon_days"),
        min_notice_minutes=body.get("min_notice_minutes"),
    )


def _detail(response: Answer) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail or response.reason_phrase or response.status_code)[:300]
