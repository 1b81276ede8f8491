"""What the agent may do, as plain async functions over typed deps.

Both brains (the built-in one and an LLM) call exactly these. The workspace, the visitor and
the calendar come from `AgentDeps`, built from the conversation: no tool takes a workspace,
visitor or booking id from the model, so no message can make it act elsewhere. Booking
safety lives here, in code: only a slot offered in an earlier turn (so the visitor answered
after seeing it) can be booked, and it is checked again right before booking.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic_ai import ModelRetry, RunContext

from conversations.agent.calendar import (
    Calendar,
    CalendarRejected,
    NoActiveConnector,
    Slot,
    SlotTaken,
)
from conversations.agent.replies import format_slot

MAX_OFFERED = 3
SEARCH_DAYS = 7  # a range asked without an end
LOOKAHEAD_DAYS = 14  # how far to look when the asked days are full


@dataclass(frozen=True, slots=True)
class Service:
    id: str  # the calendar's event type (the workspace service id for the builtin calendar)
    name: str
    duration_minutes: int | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class WorkspaceView:
    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    tone: str
    timezone: str


@dataclass(frozen=True, slots=True)
class ConversationView:
    id: uuid.UUID
    workspace_id: uuid.UUID
    channel: str
    visitor_id: str
    visitor_name: str | None
    visitor_contact: str | None


@dataclass
class Memory:
    """What the agent keeps between turns of one conversation (stored as JSON)."""

    turn: int = 0
    lang: str | None = None
    service_id: str | None = None
    last_list: str | None = None  # "services" or "slots": what a bare number refers to
    offered_services: list[str] = field(default_factory=list)
    # Offered slots: {"n", "service_id", "start" (ISO, aware), "turn"}.
    offered_slots: list[dict[str, Any]] = field(default_factory=list)
    proposal: dict[str, Any] | None = None  # one slot put to the visitor for a yes
    booking: dict[str, Any] | None = None  # {"id", "service_id", "service", "start"}
    misunderstood: int = 0
    moving: bool = False

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> Memory:
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def dump(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TurnEffects:
    """What this turn did, so the loop records it and the reply can never claim otherwise."""

    handoff_reason: str | None = None
    booked: dict[str, Any] | None = None
    cancelled: dict[str, Any] | None = None
    tool_errors: list[str] = field(default_factory=list)


@dataclass
class AgentDeps:
    conversation: ConversationView
    workspace: WorkspaceView
    services: list[Service]
    calendar: Calendar
    now: datetime  # aware, in the workspace's timezone
    memory: Memory
    greeting: str | None = None
    connector_active: bool = True
    effects: TurnEffects = field(default_factory=TurnEffects)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.workspace.timezone)

    @property
    def lang(self) -> str:
        return self.memory.lang or "en"

    def service(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)


# -- tools -------------------------------------------------------------------------------


async def list_services(ctx: RunContext[AgentDeps]) -> list[dict[str, Any]]:
    """List the services this business offers, numbered in the order to show them."""
    deps = ctx.deps
    deps.memory.offered_services = [s.id for s in deps.services]
    deps.memory.last_list = "services"
    return [
        {"option": i, "service_id": s.id, "name": s.name, "duration_minutes": s.duration_minutes}
        for i, s in enumerate(deps.services, 1)
    ]


async def find_free_slots(
    ctx: RunContext[AgentDeps],
    service_id: str,
    day: str | None = None,
    end_day: str | None = None,
    near_time: str | None = None,
) -> dict[str, Any]:
    """Find up to three free times for a service and offer them to the visitor as a list.

    Args:
        service_id: the `service_id` from list_services.
        day: first local day to search, YYYY-MM-DD (default: today).
        end_day: last local day to search, YYYY-MM-DD (default: a week from `day`).
        near_time: HH:MM the visitor asked for; the closest times come first.
    """
    deps = ctx.deps
    service = deps.service(service_id)
    if service is None:
        raise ModelRetry("Unknown service_id: call list_services and use one of its ids")
    today = deps.now.date()
    first = _day(day, today) if day else today
    # A day the visitor named is searched alone; otherwise the coming week.
    default_last = first if day else first + timedelta(days=SEARCH_DAYS - 1)
    last = _day(end_day, today) if end_day else default_last
    if first < today:
        first = today
    last = max(first, min(last, first + timedelta(days=30)))
    wanted = _clock(near_time) if near_time else None
    # The next two days usually hold three free times: ask the calendar for those first.
    near = min(last, first + timedelta(days=1))
    slots = await _free(deps, service.id, first, near)
    if len(slots) < MAX_OFFERED and near < last:
        slots += await _free(deps, service.id, near + timedelta(days=1), last)
    note = None
    if not slots:
        # The asked days are full: offer the nearest free times after them.
        note = "requested_days_full"
        slots = await _free(
            deps, service.id, last + timedelta(days=1), last + timedelta(days=LOOKAHEAD_DAYS)
        )
    exact = None
    if wanted is not None and slots:
        target = [s for s in slots if s.start.astimezone(deps.zone).time() == wanted]
        exact = (
            target[0] if target and target[0].start.astimezone(deps.zone).date() == first else None
        )
        slots = sorted(
            slots,
            key=lambda s: (s.start.astimezone(deps.zone).date(), _distance(s, wanted, deps.zone)),
        )
    offered = slots[:MAX_OFFERED]
    if exact is not None and exact not in offered:
        offered = [exact, *offered[: MAX_OFFERED - 1]]
    offered.sort(key=lambda s: s.start)
    deps.memory.service_id = service.id
    deps.memory.offered_slots = [
        {"n": i, "service_id": service.id, "start": s.start.isoformat(), "turn": deps.memory.turn}
        for i, s in enumerate(offered, 1)
    ]
    deps.memory.last_list = "slots" if offered else deps.memory.last_list
    deps.memory.proposal = (
        {"service_id": service.id, "start": exact.start.isoformat(), "turn": deps.memory.turn}
        if exact is not None
        else None
    )
    return {
        "service": service.name,
        "timezone": deps.workspace.timezone,
        "searched": {"from": first.isoformat(), "to": last.isoformat()},
        "note": note,
        "exact_match": exact.start.isoformat() if exact else None,
        "slots": [
            {
                "option": i,
                "start": s.start.isoformat(),
                "local": format_slot(s.start, deps.zone, deps.lang),
            }
            for i, s in enumerate(offered, 1)
        ],
    }


async def book_slot(
    ctx: RunContext[AgentDeps], service_id: str, start: str, visitor_name: str | None = None
) -> dict[str, Any]:
    """Book a slot the visitor accepted. Only a time offered in an earlier message can be booked.

    Args:
        service_id: the service of the offered slot.
        start: the slot's `start` exactly as find_free_slots returned it.
        visitor_name: the visitor's name, if they gave it and the conversation has none.
    """
    deps = ctx.deps
    offered = _offered(deps, service_id, start)
    if offered is None:
        return {"status": "not_offered", "detail": "Offer this time with find_free_slots first."}
    if offered["turn"] >= deps.memory.turn:
        return {
            "status": "not_accepted_yet",
            "detail": "The visitor has not answered this offer yet: ask them first.",
        }
    if deps.memory.booking is not None and not deps.memory.moving:
        return {"status": "already_booked", "booking": deps.memory.booking}
    return await _book(deps, service_id, datetime.fromisoformat(start), visitor_name)


async def cancel_booking(ctx: RunContext[AgentDeps]) -> dict[str, Any]:
    """Cancel the booking made in this conversation (the visitor's own, and only that one)."""
    deps = ctx.deps
    booking = deps.memory.booking
    if booking is None:
        return {"status": "no_booking"}
    await deps.calendar.cancel(booking["id"])
    deps.memory.booking = None
    deps.memory.moving = False
    deps.effects.cancelled = booking
    return {"status": "cancelled", "booking": booking}


async def move_booking(ctx: RunContext[AgentDeps], start: str) -> dict[str, Any]:
    """Move this conversation's booking to another offered time the visitor accepted.

    Args:
        start: the new slot's `start` exactly as find_free_slots returned it.
    """
    deps = ctx.deps
    booking = deps.memory.booking
    if booking is None:
        return {"status": "no_booking"}
    deps.memory.moving = True
    result = await book_slot(ctx, booking["service_id"], start)
    if result.get("status") == "booked":
        await deps.calendar.cancel(booking["id"])
        deps.effects.cancelled = booking
        deps.memory.moving = False
        result["moved_from"] = booking
    return result


async def hand_off(ctx: RunContext[AgentDeps], reason: str) -> str:
    """Hand the conversation to the business owner, who will answer in person.

    Args:
        reason: why, in a few words (e.g. "visitor asked for a person").
    """
    ctx.deps.effects.handoff_reason = (reason.strip() or "handed off")[:200]
    return "Handed off. Tell the visitor a person will answer here; say nothing else."


TOOLS = (list_services, find_free_slots, book_slot, cancel_booking, move_booking, hand_off)


# -- internals -------------------------------------------------------------------------


async def _free(deps: AgentDeps, event_type: str, first: date, last: date) -> list[Slot]:
    try:
        slots = await deps.calendar.availability(event_type, first, last)
    except NoActiveConnector:
        deps.connector_active = False
        raise
    # Never offer what has already started.
    return sorted((s for s in slots if s.start > deps.now), key=lambda s: s.start)


async def _book(
    deps: AgentDeps, service_id: str, start: datetime, visitor_name: str | None
) -> dict[str, Any]:
    service = deps.service(service_id)
    assert service is not None
    local_day = start.astimezone(deps.zone).date()
    fresh = await _free(deps, service_id, local_day, local_day)
    if not any(s.start == start for s in fresh):
        return await _taken(deps, service, start)
    conversation = deps.conversation
    key = f"agent-{conversation.id.hex}-{service_id[:36]}-{int(start.timestamp())}"
    email, phone = _contact(conversation)
    try:
        booked = await deps.calendar.book(
            service_id,
            start,
            name=(conversation.visitor_name or visitor_name or "Visitor")[:200],
            email=email,
            phone=phone,
            idempotency_key=re.sub(r"[^A-Za-z0-9_.:-]", "-", key)[:100],
            conversation_id=conversation.id,
        )
    except SlotTaken:
        return await _taken(deps, service, start)
    except CalendarRejected as exc:
        deps.effects.tool_errors.append(str(exc))
        return {"status": "refused", "detail": str(exc)}
    record = {
        "id": booked.id,
        "service_id": service.id,
        "service": service.name,
        "start": booked.start.isoformat(),
    }
    deps.memory.booking = record
    deps.memory.proposal = None
    deps.memory.offered_slots = []
    deps.effects.booked = record
    return {
        "status": "booked",
        "booking": record,
        "local": format_slot(booked.start, deps.zone, deps.lang),
    }


async def _taken(deps: AgentDeps, service: Service, start: datetime) -> dict[str, Any]:
    """Taken meanwhile: say so and offer the nearest others (a new offer, a new turn to accept)."""
    day = start.astimezone(deps.zone).date()
    slots = await _free(deps, service.id, day, day + timedelta(days=SEARCH_DAYS - 1))
    offered = slots[:MAX_OFFERED]
    deps.memory.offered_slots = [
        {"n": i, "service_id": service.id, "start": s.start.isoformat(), "turn": deps.memory.turn}
        for i, s in enumerate(offered, 1)
    ]
    deps.memory.proposal = None
    deps.memory.last_list = "slots"
    return {
        "status": "taken",
        "requested": format_slot(start, deps.zone, deps.lang),
        "service": service.name,
        "slots": [
            {
                "option": i,
                "start": s.start.isoformat(),
                "local": format_slot(s.start, deps.zone, deps.lang),
            }
            for i, s in enumerate(offered, 1)
        ],
    }


def _offered(deps: AgentDeps, service_id: str, start: str) -> dict[str, Any] | None:
    try:
        wanted = datetime.fromisoformat(start)
    except ValueError:
        return None
    candidates = list(deps.memory.offered_slots)
    if deps.memory.proposal:
        candidates.append(deps.memory.proposal)
    for item in candidates:
        if item["service_id"] == service_id and datetime.fromisoformat(item["start"]) == wanted:
            return item
    return None


def _contact(conversation: ConversationView) -> tuple[str | None, str | None]:
    contact = conversation.visitor_contact or ""
    if "@" in contact:
        return contact[:200], None
    candidate = contact or (
        conversation.visitor_id if conversation.channel in ("whatsapp", "sms") else ""
    )
    digits = re.sub(r"[^\d]", "", candidate)
    phone = f"+{digits}" if 7 <= len(digits) <= 15 and digits[0] != "0" else None
    return None, phone


def _day(value: str, today: date) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ModelRetry("Days are YYYY-MM-DD") from exc


def _clock(value: str) -> time | None:
    try:
        return time.fromisoformat(value)
    except ValueError:
        return None


def _distance(slot: Slot, wanted: time, zone: ZoneInfo) -> int:
    local = slot.start.astimezone(zone)
    return abs(local.hour * 60 + local.minute - (wanted.hour * 60 + wanted.minute))
