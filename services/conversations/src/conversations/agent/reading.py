"""One visitor message, read once per turn: language, intent, when, service, choice.

Pure and synchronous; `core` runs it off the event loop with a time budget, so no visitor
text can hold up other conversations.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from conversations.agent.words.contact import for_someone
from conversations.agent.words.intents import (
    Intent,
    cancel_and_keep,
    cant_clause,
    choice_number,
    read_intent,
)
from conversations.agent.words.langs import detect_language, locale_for, month_first
from conversations.agent.words.services import (
    CHILD,
    CHILDS_SERVICE,
    Named,
    ServiceMatch,
    match_service,
    said_at,
)
from conversations.agent.words.text import bound, words
from conversations.agent.words.when import When, read_when


@dataclass(frozen=True, slots=True)
class Reading:
    text: str  # bounded
    lang: str
    intent: Intent
    when: When
    service: ServiceMatch
    attendee: str | None = None  # who the visit is for, when not the visitor ("for my son")
    cant_day: date | None = None  # the day said with "can't make it": the booking's

    def choice(self, options: int, *, any_is_first: bool = False) -> int | None:
        return choice_number(self.text, options, self.lang, any_is_first=any_is_first)


def read_message(
    text: str,
    *,
    today: date,
    now: datetime | None = None,
    timezone: str,
    previous_lang: str | None,
    default_lang: str,
    services: list[Named],
) -> Reading:
    short = bound(text)
    # Mid-conversation, the service names say nothing of the language (a first message
    # that is only a name has nothing else to go by).
    seen = _without_names(short, services) if previous_lang else short
    lang = detect_language(seen, previous_lang, default_lang)
    intent = read_intent(short)
    first = month_first(locale_for(lang, timezone))
    clause = cant_clause(short) if intent.cant else None
    service = match_service(short, services)
    both = cancel_and_keep(short) if intent.keep else None
    if both is not None:
        gone, kept = (match_service(clause, services) for clause in both)
        named = {gone.service} if gone.service is not None else set(gone.candidates)
        if named and kept.service is not None and kept.service not in named:
            # "cancel the beard trim, keep the haircut": the beard trim is cancelled ("la
            # barba" may be either beard service: the booked one, as `brain` reads it).
            intent, service = replace(intent, keep=False, cancel=True), gone
    attendee = _attendee(short, service)
    return Reading(
        text=short,
        lang=lang,
        intent=intent,
        when=_from_now(read_when(short, today, lang, month_first=first), now),
        service=_for_a_child(service, attendee, services),
        attendee=attendee,
        cant_day=read_when(clause, today, lang, month_first=first).first if clause else None,
    )


def _from_now(when: When, now: datetime | None) -> When:
    """ "in an hour", "right now": today, at the next quarter hour from then, or so."""
    if when.from_now is None:
        return when
    if now is None:
        return replace(when, from_now=None)
    at = now + timedelta(minutes=when.from_now + 14)
    at = at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)
    if at.date() != now.date():
        return replace(when, from_now=None, first=now.date(), last=now.date(), latest=True)
    return replace(when, first=at.date(), last=at.date(), clock=at.time(), approximate=True)


def _attendee(text: str, service: ServiceMatch) -> str | None:
    """Who the visit is for, when not the visitor: of the first service named, when several
    are ("a haircut for me and a kids haircut for my son" says nothing of the haircut)."""
    found = for_someone(text)
    if found is None or service.service is None or not service.also:
        return found
    named = [service.service, *service.also]
    said = len(text[: max(0, text.find(found))].split())
    return found if said < said_at(text, service.also[0], named) else None


# A child the visit is for ("my son needs a haircut"): said of the one the visit is for, "son"
# is the English word (not Spanish "they are").
_CHILD = CHILD | {"son", "sons", "daughter", "daughters"}


def _for_a_child(match: ServiceMatch, attendee: str | None, services: list[Named]) -> ServiceMatch:
    """ "my son needs a haircut" with both "Haircut" and "Kids haircut" sold: which one is
    asked (a son may be grown up); the service named stands otherwise."""
    named = match.service
    if named is None or attendee is None or not set(words(attendee)) & _CHILD:
        return match
    own = set(words(named.name))
    if own & CHILDS_SERVICE:
        return match
    kids = [
        s
        for s in services
        if set(words(s.name)) & CHILDS_SERVICE and own <= set(words(s.name)) and s != named
    ]
    if len(kids) != 1:
        return match
    return ServiceMatch(None, candidates=(named, kids[0]))


def _without_names(text: str, services: list[Named]) -> str:
    """The message without the words of the business's service names: they are in the
    business's language, not necessarily the visitor's ("Haircut and beard", typed from the
    list by a visitor writing Spanish, is no switch to English)."""
    names = {w for s in services for w in words(s.name)}
    if not names:
        return text
    return " ".join(w for w in text.split() if not set(words(w)) & names or not words(w))


_WARM_UP_TEXTS = {
    "en": "hi, a haircut tomorrow afternoon at 3pm in two weeks, how much?",
    "es": "hola, mañana por la tarde a las 4, dentro de dos semanas, cuánto cuesta?",
    "pt": "oi, amanhã de manhã às 10h, daqui a 2 semanas, quanto custa?",
    "fr": "bonjour, demain à 15h dans deux semaines, combien ?",
    "de": "hallo, morgen um 10 Uhr in zwei Wochen, was kostet?",
    "it": "ciao, domani alle 10 tra due settimane, quanto costa?",
}
_warm_lock = threading.Lock()
_warm = False


def warm_up() -> None:
    """Load the libraries' models and language data once (about a second), so no visitor's
    turn pays for it and the reading budget measures reading alone."""
    global _warm
    with _warm_lock:
        if _warm:
            return
        from conversations.agent.replies import format_slot, say

        today = date(2026, 1, 5)
        for lang, text in _WARM_UP_TEXTS.items():
            read_message(
                text,
                today=today,
                timezone="Europe/Madrid",
                previous_lang=lang,
                default_lang=lang,
                services=[Named("1", "Haircut")],
            )
            say(lang, "pick_service")
            format_slot(datetime(2026, 1, 5, 9, tzinfo=UTC), ZoneInfo("Europe/Madrid"), lang)
        _warm = True
