"""The dialogue as typed state: what was offered, asked, proposed and booked in one conversation.

Stored as JSON between turns (`Dialogue.dump()` / `Dialogue.load()`); a stored state this
version cannot read starts afresh instead of failing every turn.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conversations.agent.words.when import When

log = logging.getLogger(__name__)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Offer(_Model):
    """A time put to the visitor; it can be booked only in a later turn (they answered it)."""

    n: int
    service_id: str
    start: datetime  # aware
    turn: int


class Asked(_Model):
    """The day(s) and time the visitor asked for, kept so a follow-up changes only one of them."""

    first: date | None = None
    last: date | None = None
    clock: time | None = None
    window: tuple[time, time] | None = None
    excluded: list[int] = Field(default_factory=list)  # weekdays ruled out
    weekdays: list[int] = Field(default_factory=list)  # only these weekdays, if any
    latest: bool = False  # the last free time of the day asked
    avoid: tuple[time, time] | None = None  # a part of the day ruled out ("except lunch")

    @classmethod
    def of(cls, when: When) -> Asked:
        return cls(
            first=when.first,
            last=when.last,
            clock=when.clock,
            window=when.window,
            excluded=list(when.excluded),
            weekdays=list(when.weekdays),
            latest=when.latest,
            avoid=when.avoid,
        )

    def when(self) -> When:
        return When(
            first=self.first,
            last=self.last,
            clock=self.clock,
            window=self.window,
            excluded=tuple(self.excluded),
            weekdays=tuple(self.weekdays),
            latest=self.latest,
            avoid=self.avoid,
        )


class BookingRef(_Model):
    id: str
    service_id: str
    service: str
    start: datetime
    status: Literal["booked", "cancelled"] = "booked"
    earlier: bool = False  # made in another conversation (a returning visitor's)


class Dialogue(_Model):
    turn: int = 0
    lang: str | None = None
    service_id: str | None = None
    asked: Asked | None = None
    last_list: Literal["services", "slots", "bookings"] | None = None
    offered_services: list[str] = Field(default_factory=list)
    offered_slots: list[Offer] = Field(default_factory=list)
    offered_bookings: list[str] = Field(default_factory=list)  # booking ids, for "which one?"
    proposal: Offer | None = None
    pending: Offer | None = None  # accepted, waiting for the visitor's name or contact
    asked_details: bool = False
    earlier_loaded: bool = False
    bookings: list[BookingRef] = Field(default_factory=list)
    moving: str | None = None  # id of the booking being moved
    # A booking the visitor asked whether they can cancel: cancelled on their "yes".
    cancelling: str | None = None
    booked_turn: int = 0  # the turn that made the latest booking here
    cancelled_turn: int = 0  # ...and the latest cancellation ("no wait, keep it" right after)
    # Proving who writes in a web chat: waiting for the e-mail to send a code to, or for the
    # code; and what the visitor wanted done once proven.
    proving: Literal["email", "code"] | None = None
    proving_for: Literal["cancel", "move", "book", "show"] | None = None
    misunderstood: int = 0
    unknown_questions: int = 0
    owner_offered_turn: int = 0  # the turn that offered to ask the owner what it did not know
    attempts: int = 0  # bookings tried: each try gets its own idempotency key
    farewell: str | None = None  # "see_you" or "thanks", as last said...
    farewell_turn: int = 0  # ...in this turn
    # The business question last answered ("price", "hours"...) and in which turn: "and on
    # Sunday?" right after the hours asks the same of another day.
    last_topic: str | None = None
    topic_turn: int = 0
    # Who the booking being made is for, when not the visitor ("for my husband John"), in
    # their words: it goes to the booking's notes.
    attendee: str | None = None
    # An e-mail whose domain looks mistyped, and the address it likely meant ("gmial.com"):
    # asked about once, the visitor's answer settles which one is kept.
    email_check: tuple[str, str] | None = None

    @property
    def live_bookings(self) -> list[BookingRef]:
        return [b for b in self.bookings if b.status == "booked"]

    def booking(self, booking_id: str | None) -> BookingRef | None:
        return next((b for b in self.live_bookings if b.id == booking_id), None)

    @classmethod
    def load(cls, data: dict[str, Any] | None) -> Dialogue:
        if not data:
            return cls()
        try:
            return cls.model_validate(data)
        except ValidationError:
            log.warning("stored dialogue state unreadable; starting afresh")
            return cls(turn=int(data.get("turn", 0) or 0), lang=data.get("lang"))

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
