"""What the agent may do, as plain async functions over typed deps, returning typed results.

Both brains (the built-in one and an LLM) call exactly these. The workspace, the visitor and
the calendar come from `AgentDeps`, built from the conversation: no tool takes a workspace or
visitor id from the model, so no message can make it act elsewhere. Booking safety lives
here, in code: only a slot offered in an earlier turn (so the visitor answered after seeing
it) can be booked, it is checked again right before booking, and a reply may only confirm
what the calendar answered.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal, Protocol, get_args
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from pydantic_ai import ModelRetry, RunContext
from rapidfuzz import fuzz, utils

from conversations.agent.calendar import (
    Calendar,
    CalendarError,
    CalendarRejected,
    NoActiveConnector,
    OpeningHours,
    Slot,
    SlotTaken,
    Upcoming,
)
from conversations.agent.knowledge import BusinessFacts
from conversations.agent.reading import Reading
from conversations.agent.replies import (
    format_clock,
    format_day,
    format_days,
    format_price,
    format_slot,
    weekday_name,
    zone_label,
)
from conversations.agent.state import Asked, BookingRef, Dialogue, Offer
from conversations.agent.words.contact import ContactDetails, likely_meant, read_details
from conversations.agent.words.intents import Topic
from conversations.agent.words.langs import country_of, default_language
from conversations.agent.words.text import content_words
from conversations.agent.words.when import AFTERNOON, EVENING, MORNING, When
from conversations.domain.reminders import ASKED_TO_STOP, MOVED, NOT_THEIR_NUMBER, WRONG_NUMBER

MAX_OFFERED = 3
SEARCH_DAYS = 7  # a range asked without an end
LOOKAHEAD_DAYS = 14  # how far to look when the asked days hold nothing
MAX_SPAN_DAYS = 31


@dataclass(frozen=True, slots=True)
class Service:
    id: str  # the calendar's event type (the workspace service id for the builtin calendar)
    name: str
    duration_minutes: int | None = None
    description: str | None = None
    price: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class WorkspaceView:
    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    tone: str
    timezone: str

    @property
    def language(self) -> str:
        return default_language(self.timezone)


@dataclass(frozen=True, slots=True)
class ConversationView:
    id: uuid.UUID
    workspace_id: uuid.UUID
    channel: str
    visitor_id: str
    visitor_name: str | None
    visitor_contact: str | None


RequiredContact = Literal["name", "name_and_phone_or_email", "name_and_phone", "name_and_email"]


@dataclass
class Visitor:
    """Who is writing, as far as the conversation's contact knows."""

    contact_id: uuid.UUID | None = None
    name: str | None = None
    phone: str | None = None  # E.164
    email: str | None = None
    verified_channel: bool = False  # the channel proves the identity (WhatsApp/SMS number...)
    proven: bool = False  # this conversation proved the contact with a one-time code

    def missing(self, required: RequiredContact) -> list[str]:
        out = [] if self.name else ["name"]
        if required == "name_and_phone_or_email" and not (self.phone or self.email):
            out.append("phone_or_email")
        elif required == "name_and_phone" and not self.phone:
            out.append("phone")
        elif required == "name_and_email" and not self.email:
            out.append("email")
        return out


@dataclass(frozen=True, slots=True)
class Reminded:
    """The booking this conversation was last reminded of, if its time has not come."""

    booking_id: str
    service: str
    start: datetime
    fresh: bool = False  # the reminder is the last thing said: the visitor's words answer it


@dataclass
class TurnEffects:
    """What this turn did, so the loop records it and the reply can never claim otherwise."""

    handoff_reason: str | None = None
    booked: BookingRef | None = None
    cancelled: BookingRef | None = None
    tool_errors: list[str] = field(default_factory=list)
    learned: ContactDetails | None = None  # name, phone or e-mail the visitor gave this turn
    confirmed: str | None = None  # a booking the visitor confirmed they will come to
    # Why no more reminders go to this chat (the visitor asked, or it is not their number).
    reminders_stopped: str | None = None


CodeStatus = Literal[
    "sent_if_known", "cannot_send", "too_many", "verified", "wrong", "expired", "locked", "none",
]  # fmt: skip


class Identity(Protocol):
    """Proving who writes in a web chat, and its anonymous booking limit (usecases.identity,
    bound to this conversation). Each call commits on its own."""

    async def request_code(self, email: str, claim: bool = False) -> CodeStatus: ...

    async def verify_code(self, code: str) -> tuple[CodeStatus, uuid.UUID | None]: ...

    async def booking_allowed(self) -> bool: ...

    async def record_booking(self) -> None: ...


@dataclass
class AgentDeps:
    conversation: ConversationView
    workspace: WorkspaceView
    services: list[Service]
    calendar: Calendar
    now: datetime  # aware, in the workspace's timezone
    memory: Dialogue
    greeting: str | None = None
    connector_active: bool = True
    facts: BusinessFacts | None = None
    visitor: Visitor = field(default_factory=Visitor)
    required_contact: RequiredContact = "name_and_phone_or_email"
    bookings_per_contact: int = 3
    reminded: Reminded | None = None
    identity: Identity | None = None  # web chats: codes and the per-address limit
    require_verified_on_webchat: bool = False  # the owner's setting: a code before booking
    effects: TurnEffects = field(default_factory=TurnEffects)
    reading: Reading | None = None  # the visitor's message, read once this turn
    said: list[str] = field(default_factory=list)  # what this turn already answered
    turn_topics: list[str] = field(default_factory=list)
    # Facts asked this turn that the business has not given ("Cleaning: I don't have its
    # price."), said after what is known, with the offer to ask the owner.
    turn_missing: list[str] = field(default_factory=list)
    # What the calendar told this turn, read once each (until the turn books or cancels).
    _hours: list[OpeningHours | None] = field(default_factory=list)  # [] until read
    _free: dict[tuple[str, date, date], list[Slot]] = field(default_factory=dict)
    _upcoming: list[Upcoming] | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.workspace.timezone)

    @property
    def lang(self) -> str:
        return self.memory.lang or self.workspace.language

    def service(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)

    async def hours(self) -> OpeningHours | None:
        """The calendar's opening hours (None when it cannot tell), read once per turn."""
        if not self._hours:
            try:
                found: OpeningHours | None = await self.calendar.hours()
            except CalendarError:
                found = None  # a courtesy: the free times stay the truth without them
            self._hours.append(found if found is not None and found.known else None)
        return self._hours[0]

    async def free(self, event_type: str, first: date, last: date) -> list[Slot]:
        """The calendar's free times on these days, read once per turn until the turn books or
        cancels (a re-check that finds a time taken offers others from the same answer)."""
        key = (event_type, first, last)
        if key not in self._free:
            self._free[key] = await self.calendar.availability(event_type, first, last)
        return self._free[key]

    def calendar_changed(self) -> None:
        """This turn booked or cancelled (or tried to): free times and the contact's upcoming
        bookings are read afresh."""
        self._free.clear()
        self._upcoming = None

    async def upcoming(self) -> list[Upcoming]:
        """The contact's upcoming bookings at the calendar (any conversation), once per turn."""
        if self.visitor.contact_id is None:
            return []
        if self._upcoming is None:
            try:
                self._upcoming = await self.calendar.upcoming(self.visitor.contact_id)
            except CalendarError:
                self._upcoming = []
        return self._upcoming


# -- typed results ------------------------------------------------------------------------


class ServiceOption(BaseModel):
    option: int
    service_id: str
    name: str
    duration_minutes: int | None = None
    price: str | None = None  # formatted in the visitor's locale
    description: str | None = None


class ServicesResult(BaseModel):
    services: list[ServiceOption]
    closed_on: str | None = None  # the days asked before a service, when all are closed


class SlotOption(BaseModel):
    option: int
    start: str  # ISO, aware: pass it back to book_slot as is
    local: str  # as the visitor reads it


Note = Literal[
    "closed",
    "closed_hour",
    "closed_window",
    "full",
    "past",
    "beyond_horizon",
    "window_full",
    "none_left_today",
]


class SlotsResult(BaseModel):
    status: Literal["offered", "none"]
    service: str
    service_id: str
    timezone: str  # as people say it, in the visitor's language
    searched_from: str
    searched_to: str
    note: Note | None = None  # why the asked days hold nothing, when they don't
    asked_day: str | None = None  # the asked day as the visitor reads it
    asked_time: str | None = None  # the time asked, "HH:MM"
    window: tuple[str, str] | None = None  # the part of the day honoured, "HH:MM"
    horizon_days: int | None = None
    horizon_until: str | None = None
    exact_match: str | None = None
    slots: list[SlotOption]


class BookingResult(BaseModel):
    status: Literal[
        "booked", "taken", "not_offered", "not_accepted_yet", "refused", "no_booking",
        "needs_details", "limit", "needs_proof", "address_limit",
    ]  # fmt: skip
    detail: str | None = None
    missing: list[str] = []  # needs_details: what to ask the visitor for
    booking: BookingRef | None = None
    moved_from: BookingRef | None = None
    local: str | None = None
    service: str | None = None
    requested: str | None = None
    slots: list[SlotOption] = []
    for_whom: str | None = None  # booked for someone else, as the visitor said it (its notes)


class ConfirmResult(BaseModel):
    status: Literal["confirmed", "no_booking"]
    booking: BookingRef | None = None
    local: str | None = None


class CancelResult(BaseModel):
    status: Literal["cancelled", "no_booking", "which"]
    booking: BookingRef | None = None
    bookings: list[BookingRef] = []
    local: str | None = None


class CodeResult(BaseModel):
    """`sent_if_known`: a code went to the address if a booking's contact holds it (the
    same answer either way); `verified`: the visitor is that contact, `bookings` are theirs."""

    status: CodeStatus | Literal["unavailable"]
    bookings: list[BookingRef] = []


class Fact(BaseModel):
    label: str
    value: str


class InfoResult(BaseModel):
    topic: Topic
    found: bool
    facts: list[Fact] = []  # the business's own words; never invent beyond them


class FaqResult(BaseModel):
    found: bool
    question: str | None = None
    answer: str | None = None


# -- tools -------------------------------------------------------------------------------


async def list_services(ctx: RunContext[AgentDeps]) -> ServicesResult:
    """List the services this business offers, numbered in the order to show them."""
    deps = ctx.deps
    deps.memory.offered_services = [s.id for s in deps.services]
    deps.memory.last_list = "services"
    return ServicesResult(
        services=[
            ServiceOption(
                option=i,
                service_id=s.id,
                name=s.name,
                duration_minutes=s.duration_minutes,
                price=_price(deps, s),
                description=s.description,
            )
            for i, s in enumerate(deps.services, 1)
        ],
        closed_on=await _closed_on_asked(deps),
    )


async def _closed_on_asked(deps: AgentDeps) -> str | None:
    """The days asked before any service ("do you work saturdays?"), when the business is
    closed on every one of them: said now, not once a service is picked."""
    asked = deps.memory.asked.when() if deps.memory.asked else None
    if asked is None or asked.first is None or asked.last is None:
        return None
    if (asked.last - asked.first).days >= 7:
        return None
    hours = await deps.hours()
    if hours is None or not _closed_every_day(hours, asked.first, asked.last):
        return None
    return format_days(asked.first, asked.last, deps.zone, deps.lang)


def _closed_every_day(hours: OpeningHours, first: date, last: date) -> bool:
    days = (first + timedelta(days=i) for i in range((last - first).days + 1))
    return not any(hours.ranges_on(d) for d in days)


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)


async def find_free_slots(
    ctx: RunContext[AgentDeps],
    service_id: str,
    day: str | None = None,
    end_day: str | None = None,
    near_time: str | None = None,
    part_of_day: Literal["morning", "afternoon", "evening"] | None = None,
    after: str | None = None,
    before: str | None = None,
    except_weekdays: list[Weekday] | None = None,
    only_weekdays: list[Weekday] | None = None,
    latest: bool = False,
    not_from: str | None = None,
    not_until: str | None = None,
) -> SlotsResult:
    """Find up to three free times for a service and offer them to the visitor as a list.

    Times are spread over the asked window (different parts of the day or days) unless the
    visitor named a time. If the asked days are closed, past, too far ahead or full, or the
    time asked is outside the opening hours ("closed_hour"), or the part of the day asked is
    ("closed_window"), `note` says which and the nearest free times are offered: tell the
    visitor the truth.

    Args:
        service_id: the `service_id` from list_services.
        day: first local day to search, YYYY-MM-DD (default: today).
        end_day: last local day to search, YYYY-MM-DD (default: `day`, or a week from today).
        near_time: HH:MM the visitor asked for; the closest times come first.
        part_of_day: the part of the day the visitor asked for.
        after: HH:MM, only times from then on ("after 5pm").
        before: HH:MM, only times before then ("before noon").
        except_weekdays: weekdays the visitor cannot do ("any day but Wednesday").
        only_weekdays: the weekdays the visitor named as options ("Monday or Tuesday").
        latest: the visitor asked for the last free time of the day ("your latest slot
            tomorrow?"): it is put to them first.
        not_from: HH:MM, with `not_until`: a part of the day the visitor rules out ("any
            time except lunch": 11:30 to 14:30).
        not_until: HH:MM, the end of that part.
    """
    deps = ctx.deps
    service = deps.service(service_id)
    if service is None:
        raise ModelRetry("Unknown service_id: call list_services and use one of its ids")
    window = {"morning": MORNING, "afternoon": AFTERNOON, "evening": EVENING}.get(part_of_day or "")
    if after or before:
        window = (_clock(after) or time(0), _clock(before) or time.max)
    first = _day(day) if day else None
    clock = _clock(near_time) if near_time else None
    # The visitor's own words said that hour bare ("7:30"), and it was read as the evening:
    # the morning may be meant (offer_slots decides by the opening hours).
    said = deps.reading.when if deps.reading is not None else None
    asked = When(
        first=first,
        last=_day(end_day) if end_day else first,
        clock=clock,
        evening_guessed=bool(said and said.evening_guessed and said.clock == clock),
        by_event=bool(said and said.by_event and said.first == first),
        window=window,
        excluded=tuple(sorted({WEEKDAYS.index(d) for d in except_weekdays or ()})),
        weekdays=tuple(sorted({WEEKDAYS.index(d) for d in only_weekdays or ()})),
        latest=latest,
        avoid=_span(_clock(not_from), _clock(not_until)),
    )
    return await offer_slots(deps, service, asked)


def _closed_at(hours: OpeningHours, clock: time, first: date, last: date) -> bool:
    """`clock` falls outside the opening hours of every open day from `first` to `last`."""
    days = (first + timedelta(days=i) for i in range((last - first).days + 1))
    open_days = [r for r in (hours.ranges_on(d) for d in days) if r]
    return bool(open_days) and not any(s <= clock < e for r in open_days for s, e in r)


def _nearest_to_window(slots: list[Slot], window: tuple[time, time], zone: ZoneInfo) -> list[Slot]:
    """The MAX_OFFERED free times closest to `window` by the clock, in time order."""

    def minutes(t: time) -> int:
        return t.hour * 60 + t.minute

    start, end = minutes(window[0]), minutes(window[1])

    def distance(slot: Slot) -> int:
        at = minutes(slot.start.astimezone(zone).time())
        return 0 if start <= at < end else min(abs(at - start), abs(at - end))

    nearest = sorted(slots, key=lambda s: (distance(s), s.start))[:MAX_OFFERED]
    return sorted(nearest, key=lambda s: s.start)


def _day_is_over(deps: AgentDeps, hours: OpeningHours, service: Service) -> bool:
    """Today's opening hours end before the service could, started now."""
    ranges = hours.ranges_on(deps.now.date())
    done = deps.now + timedelta(minutes=service.duration_minutes or 0)
    return bool(ranges) and (
        done.date() > deps.now.date() or all(end <= done.time() for _, end in ranges)
    )


def _closed_in(hours: OpeningHours, window: tuple[time, time], first: date, last: date) -> bool:
    """No opening hours of any open day from `first` to `last` overlap `window`."""
    days = (first + timedelta(days=i) for i in range((last - first).days + 1))
    open_days = [r for r in (hours.ranges_on(d) for d in days) if r]
    start, end = window
    return bool(open_days) and not any(s < end and start < e for r in open_days for s, e in r)


async def offer_slots(
    deps: AgentDeps, service: Service, asked: When, *, day_was_offered: bool = False
) -> SlotsResult:
    """The offer a person would make for `asked`, recorded in the dialogue for a later pick.
    `day_was_offered`: a time on the asked day was offered already, so the day is open and
    within the horizon."""
    today = deps.now.date()
    zone = deps.zone
    # Opening hours explain a day the visitor named (closed, beyond the horizon); the
    # soonest free times, or a day already offered, need only the calendar's answer.
    explain = (asked.first is not None or asked.clock is not None) and not day_was_offered
    hours = await deps.hours() if explain else None
    note: Note | None = None
    first = asked.first or today
    last = asked.last or (first if asked.first else today + timedelta(days=SEARCH_DAYS - 1))
    last = min(max(first, last), first + timedelta(days=MAX_SPAN_DAYS))
    horizon_days = hours.horizon_days if hours else None
    horizon_end = today + timedelta(days=horizon_days) if horizon_days else None
    if first < today:
        note, first, last = "past", today, today + timedelta(days=SEARCH_DAYS - 1)
    elif horizon_end is not None and first > horizon_end:
        note = "beyond_horizon"
        first, last = max(today, horizon_end - timedelta(days=SEARCH_DAYS - 1)), horizon_end
    elif hours and asked.first and _closed_every_day(hours, first, last):
        note = "closed"
    evening = asked.clock if asked.evening_guessed else None
    if evening and hours and _closed_at(hours, evening, first, last):
        # "7:30" read as the evening, when the business is closed then and open at 7:30 in
        # the morning: the morning.
        morning = time(evening.hour - 12, evening.minute)
        if not _closed_at(hours, morning, first, last):
            asked = replace(asked, clock=morning, evening_guessed=False)
    slots = [] if note == "closed" else await _free(deps, service.id, first, last)
    in_window = [s for s in slots if _wanted(s, asked, zone)]
    if note is None and hours and asked.clock and _closed_at(hours, asked.clock, first, last):
        note = "closed_hour"  # "8pm": tell them we're closed then, as for a closed day
    if note is None and hours and asked.window and _closed_in(hours, asked.window, first, last):
        note = "closed_window"  # "tomorrow evening" where it closes at 17:00: not "full"
    if note is None and slots and not in_window:
        note = "window_full"
    if note is None and not slots and asked.first is not None:
        note = "full"
    if note == "full" and hours and first == last == today and _day_is_over(deps, hours, service):
        note = "none_left_today"  # "anything today?" at closing time: not "fully booked"
    chosen = in_window
    if not chosen and note == "closed_window" and slots and asked.window:
        # "friday after work" where it closes at 17:00: that day's times nearest the window
        # (the last ones before an evening, the first after a morning it is closed).
        chosen = _nearest_to_window(slots, asked.window, zone)
    if not chosen and asked.by_event and first > today:
        # "before my wedding on saturday", closed or full then: the last days before it.
        before = await _free(deps, service.id, today, first - timedelta(days=1))
        before = [s for s in before if _wanted(s, asked, zone)] or before
        days = sorted({s.start.astimezone(zone).date() for s in before})[-2:]
        chosen = [s for s in before if s.start.astimezone(zone).date() in days]
    if not chosen:
        # Nothing in the asked days: the nearest free times after them, the window kept.
        later = await _free(
            deps, service.id, last + timedelta(days=1), last + timedelta(days=LOOKAHEAD_DAYS)
        )
        if note == "beyond_horizon":
            later = slots + later
        chosen = [s for s in later if _wanted(s, asked, zone)] or later
    exact = None
    if asked.clock is not None and chosen:
        target_day = asked.first
        exact = next(
            (
                s
                for s in chosen
                if s.start.astimezone(zone).time() == asked.clock
                and (target_day is None or s.start.astimezone(zone).date() == target_day)
            ),
            None,
        )
    if asked.latest and in_window and asked.clock is None:
        exact = in_window[-1]  # "the latest you have": the last free time, put to them
    offered = _pick(chosen, asked.clock, zone)
    if exact is not None and exact not in offered:
        offered = [exact, *offered[: MAX_OFFERED - 1]]
    offered.sort(key=lambda s: s.start)
    memory = deps.memory
    memory.service_id = service.id
    memory.asked = Asked.of(asked)
    # New times offered replace a time accepted earlier and still waiting for the visitor's
    # details: a "yes" now answers these, never the old one.
    memory.pending, memory.asked_details = None, False
    memory.offered_slots = [
        Offer(n=i, service_id=service.id, start=s.start, turn=memory.turn)
        for i, s in enumerate(offered, 1)
    ]
    if offered:
        memory.last_list = "slots"
    memory.proposal = (
        Offer(n=0, service_id=service.id, start=exact.start, turn=memory.turn) if exact else None
    )
    lang = deps.lang
    return SlotsResult(
        status="offered" if offered else "none",
        service=service.name,
        service_id=service.id,
        timezone=zone_label(zone, lang),
        searched_from=first.isoformat(),
        searched_to=last.isoformat(),
        note=note,
        asked_day=format_day(asked.first, zone, lang) if asked.first else None,
        asked_time=asked.clock.strftime("%H:%M") if asked.clock else None,
        window=(
            (asked.window[0].strftime("%H:%M"), asked.window[1].strftime("%H:%M"))
            if asked.window
            else None
        ),
        horizon_days=horizon_days,
        horizon_until=format_day(horizon_end, zone, lang) if horizon_end else None,
        exact_match=exact.start.isoformat() if exact else None,
        slots=[
            SlotOption(option=i, start=s.start.isoformat(), local=format_slot(s.start, zone, lang))
            for i, s in enumerate(offered, 1)
        ],
    )


async def book_slot(
    ctx: RunContext[AgentDeps],
    service_id: str,
    start: str,
    visitor_name: str | None = None,
    for_whom: str | None = None,
) -> BookingResult:
    """Book a slot the visitor accepted. Only a time offered in an earlier message can be booked.

    Args:
        service_id: the service of the offered slot.
        start: the slot's `start` exactly as find_free_slots returned it.
        visitor_name: the visitor's name, if they gave it and the conversation has none.
        for_whom: who the visit is for when the visitor books for someone else, in their
            words ("for my husband John"); it goes to the booking's notes.
    """
    deps = ctx.deps
    if for_whom and for_whom.strip():
        deps.memory.attendee = for_whom.strip()[:200]
    offered = _offered(deps, service_id, start)
    if offered is None:
        return BookingResult(
            status="not_offered", detail="Offer this time with find_free_slots first."
        )
    if offered.turn >= deps.memory.turn:
        return BookingResult(
            status="not_accepted_yet",
            detail="The visitor has not answered this offer yet: ask them first.",
        )
    if visitor_name and not deps.visitor.name:
        learn(deps, ContactDetails(name=visitor_name[:100]))
    return await _book(deps, service_id, offered.start, visitor_name)


async def save_contact_details(
    ctx: RunContext[AgentDeps],
    name: str | None = None,
    phone: str | None = None,
    email: str | None = None,
) -> ContactResult:
    """Record the visitor's name, phone or e-mail as they typed it (before booking, when
    book_slot answered `needs_details`). Invalid values are ignored and reported.

    Args:
        name: the visitor's name.
        phone: a phone number, as typed (read in the business's country).
        email: an e-mail address.
    """
    deps = ctx.deps
    region = country_of(deps.workspace.timezone)
    typed = " ".join(v for v in (phone, email) if v)
    found = read_details(typed, region) if typed else ContactDetails()
    given = ContactDetails(
        name=(name or "").strip()[:100] or None, phone=found.phone, email=found.email
    )
    learn(deps, given)
    invalid = [k for k, v in (("phone", phone), ("email", email)) if v and not getattr(given, k)]
    return ContactResult(
        saved=[k for k in ("name", "phone", "email") if getattr(given, k)],
        invalid=invalid,
        missing=deps.visitor.missing(deps.required_contact),
        did_you_mean=likely_meant(given.email) if given.email else None,
    )


class ContactResult(BaseModel):
    saved: list[str]
    invalid: list[str]
    missing: list[str]
    # The e-mail's domain looks mistyped ("gmial.com"): the address it likely meant, to ask
    # the visitor about before booking.
    did_you_mean: str | None = None


def learn(deps: AgentDeps, details: ContactDetails) -> None:
    """What the visitor told about themselves, for this booking and their contact."""
    if details.empty:
        return
    v = deps.visitor
    v.name = details.name or v.name
    v.phone = details.phone or v.phone
    v.email = details.email or v.email
    before = deps.effects.learned or ContactDetails()
    deps.effects.learned = ContactDetails(
        name=details.name or before.name,
        phone=details.phone or before.phone,
        email=details.email or before.email,
    )


async def cancel_booking(ctx: RunContext[AgentDeps], booking_id: str | None = None) -> CancelResult:
    """Cancel one of the visitor's own bookings made in this conversation.

    Args:
        booking_id: which one, when there are several (from an earlier result); else the only one.
    """
    deps = ctx.deps
    booking = _which(deps, booking_id)
    if isinstance(booking, list):
        deps.memory.offered_bookings = [b.id for b in booking]
        deps.memory.last_list = "bookings"
        return CancelResult(status="which" if booking else "no_booking", bookings=booking)
    try:
        await deps.calendar.cancel(booking.id)
    finally:
        deps.calendar_changed()
    booking.status = "cancelled"
    deps.memory.moving = None
    deps.memory.cancelled_turn = deps.memory.turn
    deps.effects.cancelled = booking
    return CancelResult(
        status="cancelled", booking=booking, local=format_slot(booking.start, deps.zone, deps.lang)
    )


async def move_booking(
    ctx: RunContext[AgentDeps], start: str, booking_id: str | None = None
) -> BookingResult:
    """Move the visitor's booking to another offered time they accepted (the old one is freed
    only once the new one holds).

    Args:
        start: the new slot's `start` exactly as find_free_slots returned it.
        booking_id: which booking, when there are several; else the only one.
    """
    deps = ctx.deps
    booking = _which(deps, booking_id or deps.memory.moving)
    if isinstance(booking, list):
        return BookingResult(status="no_booking", detail="Say which booking to move.")
    offered = _offered(deps, booking.service_id, start)
    if offered is None:
        return BookingResult(
            status="not_offered", detail="Offer this time with find_free_slots first."
        )
    if offered.turn >= deps.memory.turn:
        return BookingResult(status="not_accepted_yet", detail="Ask the visitor first.")
    result = await _book(deps, booking.service_id, offered.start, None)
    if result.status == "booked":
        try:
            await deps.calendar.cancel(booking.id, reason=MOVED)
        finally:
            deps.calendar_changed()
        booking.status = "cancelled"
        deps.effects.cancelled = booking
        deps.memory.moving = None
        result.moved_from = booking
    return result


async def confirm_booking(
    ctx: RunContext[AgentDeps], booking_id: str | None = None
) -> ConfirmResult:
    """Record that the visitor will come to their booking (their answer to a reminder).

    Args:
        booking_id: which booking; default the one this conversation was reminded of.
    """
    deps = ctx.deps
    booking = reminded_booking(deps, booking_id)
    if booking is None:
        return ConfirmResult(status="no_booking")
    await deps.calendar.confirm(booking.id)
    deps.effects.confirmed = booking.id
    return ConfirmResult(
        status="confirmed", booking=booking, local=format_slot(booking.start, deps.zone, deps.lang)
    )


def reminded_booking(deps: AgentDeps, booking_id: str | None = None) -> BookingRef | None:
    """The visitor's booking a reminder answer refers to: the one reminded of here, or one of
    their own bookings; never an id that is neither (a button payload is visitor input)."""
    m = deps.memory
    wanted = booking_id or (deps.reminded.booking_id if deps.reminded else None)
    if wanted is None:
        live = m.live_bookings
        return live[0] if len(live) == 1 else None
    found = m.booking(wanted)
    if found is not None:
        return found
    if any(b.id == wanted for b in m.bookings):
        return None  # known here and no longer booked: cancelled or moved in this chat
    r = deps.reminded
    if r is None or r.booking_id != wanted or r.start <= deps.now:
        return None
    service = next((s for s in deps.services if s.name == r.service), None)
    ref = BookingRef(
        id=r.booking_id,
        service_id=service.id if service else "",
        service=r.service,
        start=r.start,
        earlier=True,
    )
    m.bookings.append(ref)
    return ref


async def request_identity_code(ctx: RunContext[AgentDeps], email: str) -> CodeResult:
    """Web chat only: send a one-time code to the e-mail the visitor says is on their
    booking, before acting on bookings made in other conversations (or booking, when the
    owner requires it). Say a code is on its way *if* that address is on a booking: never
    whether it is.

    Args:
        email: the e-mail address as the visitor typed it.
    """
    deps = ctx.deps
    if deps.identity is None:
        return CodeResult(status="unavailable")
    found = read_details(email, country_of(deps.workspace.timezone)).email
    if found is None:
        return CodeResult(status="cannot_send")
    # Proving before a booking: the address is the visitor's own claim, to be proven.
    status = await deps.identity.request_code(found, claim=deps.memory.proving_for == "book")
    deps.memory.proving = "code" if status == "sent_if_known" else "email"
    return CodeResult(status=status)


async def verify_identity_code(ctx: RunContext[AgentDeps], code: str) -> CodeResult:
    """Check the code the visitor typed. `verified`: act on their `bookings` as on this
    conversation's own; anything else: nothing about anyone's bookings may be said.

    Args:
        code: the digits the visitor typed.
    """
    deps = ctx.deps
    if deps.identity is None:
        return CodeResult(status="unavailable")
    status, contact_id = await deps.identity.verify_code(re.sub(r"\D", "", code)[:12])
    if status != "verified" or contact_id is None:
        if status in ("expired", "locked", "none"):
            deps.memory.proving = "email"
        return CodeResult(status=status)
    deps.memory.proving = None
    deps.visitor.contact_id, deps.visitor.proven = contact_id, True
    deps._upcoming = None  # another contact's bookings now
    deps.memory.earlier_loaded = False
    await load_earlier_bookings(deps)
    return CodeResult(status="verified", bookings=deps.memory.live_bookings)


async def business_info(ctx: RunContext[AgentDeps], topic: Topic) -> InfoResult:
    """What the business says about a topic visitors ask before booking: prices and durations
    of its services, what each includes (`about`: their descriptions), opening hours, how far
    ahead it books (`horizon`), address, payment methods, its cancellation, lateness and
    deposit policies, how to contact it. Answer only
    from `facts`; when `found` is false, say you don't have that and offer to ask the owner.

    Args:
        topic: what the visitor asks about.
    """
    return await read_facts(ctx.deps, topic)


async def search_faq(ctx: RunContext[AgentDeps], question: str) -> FaqResult:
    """Look the visitor's question up in the business's own questions and answers.

    Args:
        question: the visitor's question, in their words.
    """
    return faq_answer(ctx.deps, question)


async def hand_off(ctx: RunContext[AgentDeps], reason: str) -> str:
    """Hand the conversation to the business owner, who will answer in person.

    Args:
        reason: why, in a few words (e.g. "visitor asked for a person").
    """
    ctx.deps.effects.handoff_reason = (reason.strip() or "handed off")[:200]
    return "Handed off. Tell the visitor a person will answer here; say nothing else."


async def stop_reminders(
    ctx: RunContext[AgentDeps], why: Literal["asked_to_stop", "wrong_number"]
) -> str:
    """No more reminders to this chat: the visitor wrote STOP or asked for no more messages
    ("asked_to_stop"; their bookings stay), or says this is not their number and they booked
    nothing ("wrong_number"; the owner is handed the conversation to check the contact).

    Args:
        why: "asked_to_stop" or "wrong_number".
    """
    effects = ctx.deps.effects
    if why == "wrong_number":
        effects.reminders_stopped = NOT_THEIR_NUMBER
        effects.handoff_reason = WRONG_NUMBER
        return "No more reminders go here and the owner will check. Apologise briefly."
    effects.reminders_stopped = ASKED_TO_STOP
    return (
        "No more reminders go to this chat; their bookings stay. Say so in one sentence, "
        "and that they can write here if they need anything."
    )


TOOLS = (
    list_services,
    find_free_slots,
    book_slot,
    cancel_booking,
    move_booking,
    confirm_booking,
    business_info,
    search_faq,
    save_contact_details,
    request_identity_code,
    verify_identity_code,
    hand_off,
    stop_reminders,
)


# -- facts ---------------------------------------------------------------------------------


async def read_facts(deps: AgentDeps, topic: Topic) -> InfoResult:
    facts = deps.facts or BusinessFacts()
    zone, lang = deps.zone, deps.lang
    out: list[Fact] = []
    if topic in ("price", "duration", "services"):
        for s in deps.services:
            price = _price(deps, s)
            if topic == "price" and price:
                out.append(Fact(label=s.name, value=price))
            elif topic == "duration" and s.duration_minutes:
                out.append(Fact(label=s.name, value=str(s.duration_minutes)))
            elif topic == "services":
                out.append(Fact(label=s.name, value=s.description or ""))
    elif topic == "about":
        out = [Fact(label=s.name, value=s.description) for s in deps.services if s.description]
    elif topic == "hours":
        hours = await deps.hours()
        when = deps.reading.when if deps.reading is not None else None
        if hours and when is not None and when.first is not None and when.first == when.last:
            # "what time do you close today?", "are you open on saturday?": that day's hours,
            # a date override (a holiday) included.
            day = when.first
            if when.weekday is not None or when.weekdays:  # "open on saturdays?": the week's
                label, ranges = (
                    weekday_name(day.weekday(), zone, lang),
                    hours.weekly.get(day.weekday(), ()),
                )
            else:
                label, ranges = format_day(day, zone, lang), hours.ranges_on(day)
            out = [Fact(label=label, value=_ranges(ranges, zone, lang))]
        elif hours:
            days: Iterable[int] = range(7)
            span = (when.last - when.first).days + 1 if when and when.first and when.last else 0
            if 1 < span < 7 and when is not None and when.first is not None:
                # "open weekends?": the weekdays of the days asked
                days = [(when.first + timedelta(days=i)).weekday() for i in range(span)]
            out = [
                Fact(
                    label=weekday_name(d, zone, lang),
                    value=_ranges(hours.weekly.get(d, ()), zone, lang),
                )
                for d in days
            ]
    elif topic == "horizon":
        hours = await deps.hours()
        if hours and hours.horizon_days:
            until = deps.now.date() + timedelta(days=hours.horizon_days)
            out = [
                Fact(label="days", value=str(hours.horizon_days)),
                Fact(label="until", value=format_day(until, zone, lang)),
            ]
    elif topic == "address":
        if facts.address:
            out.append(Fact(label="address", value=facts.address))
        if facts.map_url:
            out.append(Fact(label="map", value=facts.map_url))
    elif topic == "payment":
        out = [Fact(label="method", value=m) for m in facts.payment_methods]
    elif topic in ("cancellation", "lateness", "deposit"):
        text = getattr(facts.policies, topic)
        if text:
            out.append(Fact(label=topic, value=text))
    elif topic == "contact":
        out = [
            Fact(label=k, value=v) for k, v in (("phone", facts.phone), ("email", facts.email)) if v
        ]
    return InfoResult(topic=topic, found=bool(out), facts=out)


def faq_answer(deps: AgentDeps, question: str) -> FaqResult:
    faq = (deps.facts or BusinessFacts()).faq
    if not faq or not question.strip():
        return FaqResult(found=False)
    ranked = [e for e in faq if e.language in (None, deps.lang)] or list(faq)
    # What an entry speaks of decides (`_about`), not how many of its words a question
    # shares: "is there parking nearby?" shares one word with "Do you have parking?", the one
    # that matters; of several entries it speaks of, the nearest in words.
    about = [e for e in ranked if _about(question[:300], e.question)]
    if not about:
        return FaqResult(found=False)
    near = utils.default_process(question[:300])
    entry = max(about, key=lambda e: fuzz.token_set_ratio(near, utils.default_process(e.question)))
    return FaqResult(found=True, question=entry.question, answer=entry.answer)


def _about(question: str, entry: str) -> bool:
    """Whether the visitor asks about everything the entry's question is about: "do you have
    wifi?" is near "Do you have parking?" by its words, and "do you cut women's hair?" near
    "Do you cut children's hair?", but their answers would be falsehoods; "is there parking
    near you?" asks about parking, and more. A word counts when it is the entry's, nearly
    (a typo), or shares its first six letters, or all of a shorter one ("park" for "parking",
    "aparcar" for "aparcamiento")."""
    asked, spoken_of = content_words(question), content_words(entry)
    return bool(asked and spoken_of) and all(
        any(_same_word(w, k) for w in asked)
        for k in spoken_of
    )  # fmt: skip


def _same_word(w: str, k: str) -> bool:
    shared_stem = len(w) >= 6 and len(k) >= 6 and w[:6] == k[:6]
    visits = w in _A_VISIT and k in _A_VISIT  # "my first appointment" of "your first visit"
    return w.startswith(k) or k.startswith(w) or shared_stem or visits or fuzz.ratio(w, k) >= 85


# A visit to the business, by the words the six languages say it with (folded): in a
# question about one, any of them names it.
_A_VISIT = frozenset(
    " ".join(
        (
            "visit visits appointment appointments appt booking session cita citas visita",
            "visitas turno consulta reserva marcacao horario rendez-vous termin termins besuch",
            "appuntamento seduta",
        )
    ).split()
)


def _ranges(ranges: tuple[tuple[time, time], ...], zone: ZoneInfo, lang: str) -> str:
    if not ranges:
        return ""
    return ", ".join(
        f"{format_clock(a, zone, lang)}\u2013{format_clock(b, zone, lang)}" for a, b in ranges
    )


def _price(deps: AgentDeps, service: Service) -> str | None:
    if service.price is None or not service.currency:
        return None
    return format_price(Decimal(service.price), service.currency, deps.zone, deps.lang)


# -- internals -------------------------------------------------------------------------


async def _free(deps: AgentDeps, event_type: str, first: date, last: date) -> list[Slot]:
    try:
        slots = await deps.free(event_type, first, last)
    except NoActiveConnector:
        deps.connector_active = False
        raise
    # Never offer what has already started.
    return sorted((s for s in slots if s.start > deps.now), key=lambda s: s.start)


def _wanted(slot: Slot, asked: When, zone: ZoneInfo) -> bool:
    """In the part of the day asked, on a weekday named (if some were) and not ruled out."""
    weekday = slot.start.astimezone(zone).weekday()
    weekday_ok = weekday not in asked.excluded and (not asked.weekdays or weekday in asked.weekdays)
    avoided = asked.avoid is not None and _within(slot, asked.avoid, zone)
    return weekday_ok and _within(slot, asked.window, zone) and not avoided


def _within(slot: Slot, window: tuple[time, time] | None, zone: ZoneInfo) -> bool:
    if window is None:
        return True
    local = slot.start.astimezone(zone).time()
    return window[0] <= local < window[1] or (window[1] == time.max and local >= window[0])


def _part(slot: Slot, zone: ZoneInfo) -> tuple[date, int]:
    local = slot.start.astimezone(zone)
    return local.date(), (0 if local.hour < 12 else 1 if local.hour < 17 else 2)


def _pick(slots: list[Slot], clock: time | None, zone: ZoneInfo) -> list[Slot]:
    """Up to three times a person would offer: the nearest to an asked time, or else spread
    over parts of the day and days (not 09:00, 09:15, 09:30)."""
    if not slots:
        return []
    if clock is not None:
        first_day = slots[0].start.astimezone(zone).date()
        same_day = [s for s in slots if s.start.astimezone(zone).date() == first_day]
        wanted = clock.hour * 60 + clock.minute

        def distance(s: Slot) -> int:
            local = s.start.astimezone(zone)
            return abs(local.hour * 60 + local.minute - wanted)

        return sorted(same_day, key=distance)[:MAX_OFFERED]
    chosen: list[Slot] = []
    seen: set[tuple[date, int]] = set()
    for slot in slots:
        bucket = _part(slot, zone)
        if bucket not in seen:
            seen.add(bucket)
            chosen.append(slot)
        if len(chosen) == MAX_OFFERED:
            return chosen
    # Fewer parts of day than offers: on the days already offered, each next time is the one
    # farthest from those chosen (an hour apart at least), so they spread over the window.
    days = {s.start.astimezone(zone).date() for s in chosen}
    rest = [s for s in slots if s not in chosen and s.start.astimezone(zone).date() in days]

    def gap(slot: Slot) -> float:
        return min(abs((slot.start - c.start).total_seconds()) for c in chosen)

    while len(chosen) < MAX_OFFERED and rest:
        farthest = max(rest, key=gap)
        if gap(farthest) < 60 * 60:
            break
        chosen.append(farthest)
        rest.remove(farthest)
    return sorted(chosen, key=lambda s: s.start)


async def _book(
    deps: AgentDeps, service_id: str, start: datetime, visitor_name: str | None
) -> BookingResult:
    service = deps.service(service_id)
    assert service is not None
    local_day = start.astimezone(deps.zone).date()
    fresh = await _free(deps, service_id, local_day, local_day)
    if not any(s.start == start for s in fresh):
        return await _taken(deps, service, start)
    missing = deps.visitor.missing(deps.required_contact)
    if missing and not deps.memory.moving:
        deps.memory.pending = Offer(
            n=0, service_id=service_id, start=start, turn=deps.memory.turn - 1
        )
        deps.memory.asked_details = True
        return BookingResult(
            status="needs_details",
            missing=missing,
            local=format_slot(start, deps.zone, deps.lang),
            service=service.name,
            detail="Ask the visitor for these, then call book_slot again.",
        )
    if not deps.memory.moving and await _at_limit(deps):
        deps.effects.handoff_reason = "the visitor reached the upcoming bookings limit"
        return BookingResult(status="limit", detail=str(deps.bookings_per_contact))
    web = deps.identity if deps.conversation.channel == "web" else None
    if web is not None and not deps.memory.moving:
        if deps.require_verified_on_webchat and not deps.visitor.proven:
            deps.memory.pending = Offer(
                n=0, service_id=service_id, start=start, turn=deps.memory.turn - 1
            )
            deps.memory.proving = "email"
            return BookingResult(
                status="needs_proof",
                local=format_slot(start, deps.zone, deps.lang),
                service=service.name,
                detail="Ask for the visitor's e-mail and send a code (request_identity_code).",
            )
        if not await web.booking_allowed():
            deps.effects.handoff_reason = "anonymous web chat bookings limit from this address"
            return BookingResult(status="address_limit")
    conversation = deps.conversation
    deps.memory.attempts += 1
    # One key per attempt: a time booked, cancelled and picked again is a new booking, not
    # the cancelled one found again by its old key.
    key = f"agent-{conversation.id.hex}-{deps.memory.attempts}-{int(start.timestamp())}"
    email, phone = _contact(conversation)
    visitor = deps.visitor
    try:
        booked = await deps.calendar.book(
            service_id,
            start,
            name=(visitor.name or conversation.visitor_name or visitor_name or "Visitor")[:200],
            email=visitor.email or email,
            phone=visitor.phone or phone,
            idempotency_key=re.sub(r"[^A-Za-z0-9_.:-]", "-", key)[:100],
            conversation_id=conversation.id,
            contact_id=visitor.contact_id,
            notes=deps.memory.attendee,
        )
    except SlotTaken:
        deps.calendar_changed()  # someone booked meanwhile: what was read is stale
        return await _taken(deps, service, start)
    except CalendarRejected as exc:
        deps.effects.tool_errors.append(str(exc))
        return BookingResult(status="refused", detail=str(exc))
    deps.calendar_changed()
    if booked.status not in (None, "confirmed"):
        status = booked.status
        # The calendar answered with a booking that does not hold the time: never confirm it.
        deps.effects.tool_errors.append(f"calendar answered a {status} booking")
        return BookingResult(status="refused", detail=f"the calendar's booking is {status}")
    record = BookingRef(
        id=booked.id, service_id=service.id, service=service.name, start=booked.start
    )
    deps.memory.bookings.append(record)
    deps.memory.booked_turn = deps.memory.turn
    for_whom, deps.memory.attendee = deps.memory.attendee, None
    deps.memory.proposal = None
    deps.memory.pending = None
    deps.memory.asked_details = False
    deps.memory.offered_slots = []
    deps.memory.last_list = None
    deps.effects.booked = record
    if web is not None and not deps.memory.moving:
        await web.record_booking()
    return BookingResult(
        status="booked",
        booking=record,
        local=format_slot(booked.start, deps.zone, deps.lang),
        for_whom=for_whom,
    )


async def _taken(deps: AgentDeps, service: Service, start: datetime) -> BookingResult:
    """Taken meanwhile: say so and offer the nearest others (a new offer, a new turn to accept)."""
    day = start.astimezone(deps.zone).date()
    asked = deps.memory.asked.when() if deps.memory.asked else When(first=day, last=day)
    offer = await offer_slots(
        deps, service, When(first=day, last=day, window=asked.window), day_was_offered=True
    )
    return BookingResult(
        status="taken",
        requested=format_slot(start, deps.zone, deps.lang),
        service=service.name,
        slots=offer.slots,
    )


async def _at_limit(deps: AgentDeps) -> bool:
    """The contact's upcoming bookings (any conversation) have reached the owner's limit."""
    if deps.bookings_per_contact <= 0:
        return False
    live_here = {b.id for b in deps.memory.live_bookings}
    others = {u.id for u in await deps.upcoming()}
    return len(live_here | others) >= deps.bookings_per_contact


async def load_earlier_bookings(deps: AgentDeps) -> None:
    """A returning visitor on a channel that proves who they are, or who proved it here with a
    code, sees their bookings from other conversations, so they can cancel or move them here.
    Never on a claimed identity."""
    m = deps.memory
    v = deps.visitor
    if m.earlier_loaded or not (v.verified_channel or v.proven) or v.contact_id is None:
        return
    m.earlier_loaded = True
    upcoming = await deps.upcoming()
    known = {b.id for b in m.bookings}
    names = {s.id: s.name for s in deps.services}
    for item in upcoming:
        if item.id not in known and item.start > deps.now:
            m.bookings.append(
                BookingRef(
                    id=item.id,
                    service_id=item.event_type,
                    service=names.get(item.event_type, item.event_type),
                    start=item.start,
                    earlier=True,
                )
            )


def _which(deps: AgentDeps, booking_id: str | None) -> BookingRef | list[BookingRef]:
    live = deps.memory.live_bookings
    if booking_id:
        found = deps.memory.booking(booking_id)
        if found is not None:
            return found
    if len(live) == 1:
        return live[0]
    return live


def _offered(deps: AgentDeps, service_id: str, start: str) -> Offer | None:
    try:
        wanted = datetime.fromisoformat(start)
    except ValueError:
        return None
    if wanted.tzinfo is None:
        return None
    candidates = list(deps.memory.offered_slots)
    if deps.memory.proposal:
        candidates.append(deps.memory.proposal)
    if deps.memory.pending:
        candidates.append(deps.memory.pending)
    for item in candidates:
        if item.service_id == service_id and item.start == wanted:
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


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ModelRetry("Days are YYYY-MM-DD") from exc


def _span(start: time | None, end: time | None) -> tuple[time, time] | None:
    return (start, end) if start is not None and end is not None and start < end else None


def _clock(value: str | None) -> time | None:
    if not value:
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        return None
