"""The built-in agent: a deterministic, offline pydantic-ai `FunctionModel`.

It reads the visitor's message once (`reading`, done by `core` with a time budget), calls the
same tools an LLM would, and composes its replies from the tools' typed results with
`replies`. Because it runs inside the same pydantic-ai exchange of messages, both brains
share one loop, one tool layer and one stored history.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from conversations.agent.reading import Reading
from conversations.agent.replies import (
    format_clock,
    format_day,
    format_days,
    format_list_of,
    format_slot,
    greeting,
    numbered,
    say,
    window_label,
)
from conversations.agent.state import Asked, BookingRef, Offer
from conversations.agent.tools import (
    WEEKDAYS,
    AgentDeps,
    BookingResult,
    CancelResult,
    CodeResult,
    ConfirmResult,
    FaqResult,
    InfoResult,
    ServicesResult,
    SlotsResult,
    faq_answer,
    learn,
    reminded_booking,
)
from conversations.agent.words.contact import likely_meant, read_details, unreadable
from conversations.agent.words.intents import Intent, Topic, choice_number, pick_by_time
from conversations.agent.words.langs import country_of
from conversations.agent.words.services import CHILDS_SERVICE, GROWN_UP, Named
from conversations.agent.words.text import fold, words
from conversations.agent.words.when import (
    When,
    bare_hour,
    read_when,
    says_it_suits,
    shift_minutes,
)
from conversations.domain.reminder_answers import payload_booking, reminder_answer
from conversations.domain.reminders import WRONG_NUMBER

MODEL_NAME = "builtin"

_RESULTS: dict[str, type[BaseModel]] = {
    "list_services": ServicesResult,
    "find_free_slots": SlotsResult,
    "book_slot": BookingResult,
    "move_booking": BookingResult,
    "cancel_booking": CancelResult,
    "confirm_booking": ConfirmResult,
    "business_info": InfoResult,
    "search_faq": FaqResult,
    "request_identity_code": CodeResult,
    "verify_identity_code": CodeResult,
}


def builtin_model(deps: AgentDeps) -> FunctionModel:
    """A model bound to this turn's deps (the brain reads the state the tools keep), for
    running the built-in brain under pydantic-ai."""
    return FunctionModel(builtin_respond(deps), model_name=MODEL_NAME)


def builtin_respond(deps: AgentDeps) -> Callable[[list[ModelMessage], Any], ModelResponse]:
    """The built-in brain as a function of the messages so far, bound to this turn's deps.
    A `FunctionModel` is not built per turn for it: its constructor loads pydantic-ai's
    pricing data (0.36 s of CPU on first use)."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        for part in reversed(last.parts):
            if isinstance(part, ToolReturnPart):
                result = part.content
                kind = _RESULTS.get(part.tool_name)
                if kind is not None and not isinstance(result, kind):
                    result = kind.model_validate(result)
                return _after_tool(deps, part.tool_name, result)
            if isinstance(part, RetryPromptPart):
                return _text(deps, say(deps.lang, "not_understood"))
        assert deps.reading is not None, "core reads the message before the brain runs"
        return _decide(deps, deps.reading)

    return respond


def _farewell(deps: AgentDeps, key: str) -> ModelResponse:
    """ "See you then!" or "you're welcome", once: a second "ok 👍" right after it gets a
    smile, as a receptionist would, not the same sentence again."""
    m = deps.memory
    again = m.farewell == key and m.farewell_turn == m.turn - 1
    m.farewell, m.farewell_turn = key, m.turn
    return _text(deps, "😊" if again else say(deps.lang, key, deps.workspace.tone))


def _call(tool: str, **args: Any) -> ModelResponse:
    return ModelResponse(
        parts=[ToolCallPart(tool, {k: v for k, v in args.items() if v is not None})],
        model_name=MODEL_NAME,
    )


def _text(deps: AgentDeps, text: str) -> ModelResponse:
    said = [*deps.said, text] if text else list(deps.said)
    body = "\n".join(part for part in said if part)
    if deps.memory.turn == 1 and not deps.effects.handoff_reason and deps.reminded is None:
        body = (
            greeting(deps.lang, deps.workspace.tone, deps.workspace.name, deps.greeting)
            + "\n"
            + body
        )
    return ModelResponse(parts=[TextPart(body)], model_name=MODEL_NAME)


# -- deciding ----------------------------------------------------------------------------


def _decide(deps: AgentDeps, r: Reading) -> ModelResponse:
    m = deps.memory
    m.lang = r.lang
    intent = r.intent
    if r.attendee is not None:  # "a haircut for my husband John": the booking's notes say so
        m.attendee = r.attendee
    # "Shall I cancel it?" stands for one message only.
    cancelling, m.cancelling = m.booking(m.cancelling), None
    if not deps.connector_active:
        return _call("hand_off", reason="no active connector")
    if intent.injection:
        m.misunderstood = 0
        return _text(deps, say(deps.lang, "scope", name=deps.workspace.name))
    if intent.person:
        return _call("hand_off", reason="visitor asked for a person")
    asks_nothing_else = not (intent.book or intent.topics or r.when.found or r.service.service)
    if intent.stop and asks_nothing_else and not (intent.cancel or intent.move):
        # "STOP": no reminders to this chat any more; the bookings stay (SMS carriers act on
        # it too, and the provider stops our sends there).
        m.offered_slots, m.proposal, m.pending, m.last_list = [], None, None, None
        return _call("stop_reminders", why="asked_to_stop")
    if intent.who and asks_nothing_else:
        # "who is this?" (after a reminder, often): the business's assistant, and their bookings.
        m.misunderstood = 0
        who = say(deps.lang, "who_we_are", name=deps.workspace.name)
        return _text(deps, who + ("\n" + _bookings_text(deps) if m.live_bookings else ""))
    if intent.small_talk and asks_nothing_else:
        # "how r u": answered as a person would, not as a question about the business.
        m.misunderstood = 0
        return _text(deps, say(deps.lang, "small_talk"))
    if intent.urgent and not (intent.question and intent.topics):
        # In pain or an emergency: the owner decides whether and when they can see them.
        return _call("hand_off", reason="urgent: the visitor is in pain or has an emergency")
    if intent.complaint and not intent.urgent:
        # Unhappy with a visit, or money back: the owner answers that, not a list of times.
        return _call("hand_off", reason=COMPLAINT)
    if intent.left_behind and not (intent.book or r.service.service):
        # "i think i left my scarf there yesterday": the owner looks, not a list of services.
        return _call("hand_off", reason="left behind: the visitor may have left something there")
    if intent.privacy:
        # "please delete my data": the owner holds the records and answers for them.
        return _call("hand_off", reason="privacy: the visitor asks about their personal data")
    today = deps.now.date()
    told_of = not r.when.found or (r.when.first is not None and r.when.first <= today)
    if intent.praise and intent.thanks and told_of and not (intent.book or intent.question):
        # "thanks for today, the haircut was great!": thanked back, no times offered.
        m.misunderstood = 0
        return _farewell(deps, "glad_you_liked")
    # "lo antes posible" (intent.earliest) asks for the first times, not for a person.
    if intent.hasty and not (
        intent.book or r.service.service or r.when.found or intent.topics or intent.earliest
    ):
        # "es urgente!!" and nothing else: a person; in a hurry for a booking, the first times.
        return _call("hand_off", reason="urgent: the visitor says it is urgent")
    proving = _proving(deps, r)
    if proving is not None:
        m.misunderstood = 0
        return proving
    details = _details_given(deps, r)
    if details is not None:
        m.misunderstood = 0
        return details
    if r.attendee is not None and m.pending is not None and not r.when.found:
        # "it's for my son actually" while their details are asked: noted, and asked again.
        m.misunderstood = 0
        noted = say(deps.lang, "booked_for", who=_yours(r.attendee))
        return _text(deps, noted + "\n" + _options_again(deps))
    understood = _understand(deps, r, cancelling)
    if understood is not None:
        m.misunderstood = 0
        return understood
    if deps.effects.learned is not None:
        # Details given before there was a booking to give them for: noted, and on we go.
        m.misunderstood = 0
        return _text(deps, say(deps.lang, "noted") + "\n" + _options_again(deps))
    if _beyond_the_list(deps, r):
        # "la deuxième" with one time offered: understood, just not there to pick.
        m.misunderstood = 0
        return _text(deps, say(deps.lang, "not_on_list") + "\n" + _options_again(deps))
    m.misunderstood += 1
    if m.misunderstood >= 2:
        return _call("hand_off", reason="did not understand the visitor twice in a row")
    return _text(deps, say(deps.lang, "not_understood") + "\n" + _options_again(deps))


MAX_LISTED = 10  # how far an option number is read past a list's end


def _beyond_the_list(deps: AgentDeps, r: Reading) -> bool:
    """The visitor picked an option by number or ordinal that the last list does not have."""
    m = deps.memory
    shown = len(m.offered_slots) if m.last_list == "slots" else len(deps.services)
    if not shown or r.when.clock is not None:
        return False  # "a las 10 xfa" asks for ten o'clock, not option ten
    n = choice_number(r.text, MAX_LISTED)
    return n is not None and n > shown


_CODE = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}(?!\d)")


def _proving(deps: AgentDeps, r: Reading) -> ModelResponse | None:
    """A web chat visitor proving who they are: the code when one was sent, an e-mail to send
    one to. Read before contact details, so an address typed for a code is not taken as the
    visitor's own claim."""
    m = deps.memory
    if m.proving is None or deps.identity is None:
        return None
    if m.proving == "code":
        code = _CODE.search(r.text)
        if code is not None:
            return _call("verify_identity_code", code=code.group())
    found = read_details(r.text, country_of(deps.workspace.timezone))
    if found.email is not None:
        return _call("request_identity_code", email=found.email)
    if found.phone is not None:
        # Codes go by e-mail only: with no address to prove, a person takes over.
        m.proving = m.proving_for = None
        return _call("hand_off", reason="the visitor can prove a phone only; codes go by e-mail")
    if r.intent.no or (r.intent.ack and not r.intent.yes):
        m.proving = m.proving_for = None  # "no thanks": on with something else
    return None


def _can_prove(deps: AgentDeps) -> bool:
    """A web chat whose visitor has not proved who they are (codes are for web chats)."""
    v = deps.visitor
    return deps.identity is not None and not v.verified_channel and not v.proven


def _prove_first(deps: AgentDeps, r: Reading, wanted: str) -> ModelResponse:
    """The visitor speaks of a booking this chat does not know. On a channel that proves
    nothing (web chat), offer a code to the e-mail on it; elsewhere there is none to see."""
    if not _can_prove(deps):
        return _text(deps, say(deps.lang, "no_booking"))
    m = deps.memory
    m.proving, m.proving_for = "email", wanted  # type: ignore[assignment]
    email = read_details(r.text, country_of(deps.workspace.timezone)).email
    if email is not None:
        return _call("request_identity_code", email=email)
    return _text(deps, say(deps.lang, "code_ask_email"))


def _code_text(deps: AgentDeps, result: CodeResult) -> ModelResponse:
    m, lang = deps.memory, deps.lang
    if result.status == "sent_if_known":
        return _text(deps, say(lang, "code_sent"))
    if result.status == "verified":
        wanted, m.proving_for = m.proving_for, None
        if m.pending is not None:  # the owner wants a proven contact before booking
            start = m.pending.start.isoformat()
            return _call("book_slot", service_id=m.pending.service_id, start=start)
        live = m.live_bookings
        if not live:
            return _text(deps, say(lang, "code_verified") + " " + say(lang, "no_upcoming"))
        if wanted == "cancel" and len(live) == 1:
            return _call("cancel_booking", booking_id=live[0].id)
        if wanted == "move" and len(live) == 1:
            m.moving = live[0].id
            return _find(deps, live[0].service_id, deps.reading.when if deps.reading else When())
        if wanted == "show":
            return _text(deps, say(lang, "code_verified") + "\n" + _bookings_text(deps))
        if wanted == "move":
            m.moving = "?"
        deps.said.append(say(lang, "code_verified"))
        return _ask_which_booking(deps)
    key = {
        "cannot_send": "code_cannot_send",
        "too_many": "code_too_many",
        "wrong": "code_wrong",
        "unavailable": "no_booking",
    }.get(result.status, "code_again")
    if result.status == "too_many":
        m.proving = m.proving_for = None
    return _text(deps, say(lang, key))


def _details_given(deps: AgentDeps, r: Reading) -> ModelResponse | None:
    """The visitor's name, phone or e-mail, given when asked (or unasked, with a lead such as
    "I'm Ana"): recorded for the contact, and the waiting booking made once nothing is missing."""
    m = deps.memory
    region = country_of(deps.workspace.timezone)
    # A short answer is taken for a name only when the name is what was asked for: asked for
    # a phone, "jake here" or "whats ur address" names nobody.
    asked_name = (
        m.asked_details
        and m.pending is not None
        and "name" in deps.visitor.missing(deps.required_contact)
    )
    found = read_details(r.text, region, asked=asked_name)
    check, m.email_check = m.email_check, None
    if check is not None and found.email is None:
        # "Did you mean ana@gmail.com?": yes is the address it meant, no the one typed.
        typed, meant = check
        if r.intent.yes or r.intent.ack:
            found = replace(found, email=meant)
        elif r.intent.no:
            found = replace(found, email=typed)
    if (
        m.pending is not None
        and m.asked_details
        and r.intent.no
        and not (found.phone or found.email)
    ):
        # "no thanks, forget it", "déjalo, gracias" (not a name): the time waiting is let go.
        m.pending, m.asked_details = None, False
        return None
    waiting = m.pending is not None and m.asked_details
    if waiting and found.phone is None and found.email is None and not r.when.found:
        typed = unreadable(r.text)
        if typed is not None:
            # "maria@gmail", "0612345678" at a Spanish business: said what is wrong with it.
            if found.name:
                learn(deps, found)
            assert m.pending is not None
            missing = deps.visitor.missing(deps.required_contact)
            text = say(deps.lang, "contact_unreadable", typed=typed[:60])
            return _text(deps, text + "\n" + _details_text(deps, missing, m.pending))
    if waiting and found.empty and _WHY.search(fold(r.text)):
        # "why do you need that?", "i'd rather not share my number": what they are for.
        assert m.pending is not None
        missing = deps.visitor.missing(deps.required_contact)
        text = say(deps.lang, "details_why") + "\n" + _details_text(deps, missing, m.pending)
        return _text(deps, text)
    if found.empty:
        if m.pending is not None and m.asked_details and (r.intent.yes or r.intent.ack):
            # "sí" to "please send me your name": the question still stands.
            return _ask_details(deps, deps.visitor.missing(deps.required_contact), m.pending)
        return None
    meant = likely_meant(found.email) if found.email and check is None else None
    if meant is not None and found.email is not None and m.pending is not None:
        # "ana.lopez@gmial.com": asked once before the booking is made with it.
        learn(deps, replace(found, email=None))
        m.email_check = (found.email, meant)
        return _text(deps, say(deps.lang, "email_meant", meant=meant, typed=found.email))
    learn(deps, found)
    if m.pending is None:
        return None  # noted; the message may ask for something else too
    missing = deps.visitor.missing(deps.required_contact)
    if missing:
        return _ask_details(deps, missing, m.pending)
    pending = m.pending
    return _call("book_slot", service_id=pending.service_id, start=pending.start.isoformat())


# Asked for their details, the visitor asks why, or would rather not give a number.
_WHY = re.compile(
    r"\b(?:why|what for|por ?que|para que|pourquoi|warum|wozu|perche|a cosa)\b"
    r"|\b(?:rather not|prefer not|prefiero no|prefiro nao|je prefere pas|lieber nicht|"
    r"preferisco non)\b"
)


def _ask_details(deps: AgentDeps, missing: list[str], offer: Offer) -> ModelResponse:
    return _text(deps, _details_text(deps, missing, offer))


def _details_text(deps: AgentDeps, missing: list[str], offer: Offer) -> str:
    lang = deps.lang
    names = {"name": "your_name", "phone_or_email": "phone_or_email", "phone": "a_phone",
             "email": "an_email"}  # fmt: skip
    what = format_list_of([say(lang, names[k]) for k in missing], deps.zone, lang)
    slot = format_slot(offer.start, deps.zone, lang)
    return say(lang, "need_details", slot=slot, what=what)


def _answer_to_reminder(deps: AgentDeps, r: Reading, raw: str) -> ModelResponse | None:
    """ "C", "X", a WhatsApp button, "confirmo", "je dois annuler": acted on the reminded
    booking (or the payload's booking, when it is one of the visitor's own)."""
    answer = reminder_answer(raw)
    if answer is None:
        return None
    booking = reminded_booking(deps, payload_booking(raw))
    if booking is None:
        return None
    if answer == "confirm":
        return _call("confirm_booking", booking_id=booking.id)
    # "no puedo ir, ¿lo podemos pasar al jueves?": a day or time asked for moves it instead;
    # "I can't make it tomorrow" names the booking's own day, which moves nothing.
    moves = (r.when.found and not _its_own_day(deps, r, booking)) or r.intent.move
    if answer == "cancel" and not moves:
        return _call("cancel_booking", booking_id=booking.id)
    deps.memory.moving = booking.id
    return _find(deps, booking.service_id, r.when) if booking.service_id else None


def _its_own_day(deps: AgentDeps, r: Reading, booking: BookingRef) -> bool:
    """The message names the booking's own day and nothing more (no other day, no time)."""
    day = booking.start.astimezone(deps.zone).date()
    w = r.when
    return w.first == day and w.last in (None, day) and w.clock is None and w.window is None


def _about_reminded(deps: AgentDeps, r: Reading) -> ModelResponse | None:
    """Words, not the reminder's own answers, written right after a reminder: "can we do
    friday instead?" moves that booking (a new time keeps its day), "I won't make it" cancels
    it, "ok 👍" or "thanks, see you then" confirms it."""
    m, reminded = deps.memory, deps.reminded
    if reminded is None or not reminded.fresh:
        return None
    # What was on offer before the reminder is stale now.
    m.offered_slots, m.proposal, m.pending, m.last_list = [], None, None, None
    booking = reminded_booking(deps)
    if booking is None:
        return None
    intent = r.intent
    if intent.cancel and not intent.move:
        if intent.question:
            return _ask_to_cancel(deps, booking)
        return _call("cancel_booking", booking_id=booking.id)
    if intent.wrong_number:
        # The reminder reached someone else: the booking's contact may be wrong, which only
        # the owner can put right (and the reminders to come would go to them too).
        return _call("stop_reminders", why="wrong_number")
    # "ok but can I come 15 min later?": a move within that day, after (or before) its time.
    shift = (intent.later or intent.earlier) and not (intent.later and intent.earlier)
    # "thanks, see you tomorrow!" names the booking's own day: a confirmation, not a move.
    elsewhen = r.when.found and not _its_own_day(deps, r, booking)
    if intent.move or elsewhen or shift:
        m.moving = booking.id
        when = _move_when(deps, r, booking)
        local = booking.start.astimezone(deps.zone)
        if when.first is None:
            when = replace(when, first=local.date(), last=local.date())
        return _find(deps, booking.service_id, when) if booking.service_id else None
    if (intent.yes or intent.ack or intent.thanks or intent.bye) and not (
        intent.no or r.service.service
    ):
        return _call("confirm_booking", booking_id=booking.id)
    if intent.no and not r.service.service:
        # A bare "no" confirms nothing and cancels nothing: say so, and how to do either.
        slot = format_slot(booking.start, deps.zone, deps.lang)
        return _text(deps, say(deps.lang, "reminder_no", service=booking.service, slot=slot))
    return None


def _understand(
    deps: AgentDeps, r: Reading, cancelling: BookingRef | None = None
) -> ModelResponse | None:
    m = deps.memory
    intent = r.intent
    live = m.live_bookings
    button = payload_booking(r.text) is not None
    # "Shall I cancel it, or move it?" answered with another day or time: moved there.
    elsewhere = cancelling is not None and _another_time(deps, r, cancelling)
    if elsewhere and not (r.service.service or intent.no or intent.keep):
        assert cancelling is not None
        m.moving = cancelling.id
        return _find_for_booking(deps, r, cancelling.id)
    # "Shall I cancel it?" answered (before a reminder's answers: "yes" here is to this).
    if cancelling is not None and not (intent.move or r.when.found or r.service.service):
        # Only a plain yes (or "cancel it") cancels: "vale gracias, de momento la mantengo"
        # begins with a yes-word too, and a wrong cancel frees the time for someone else.
        plain_yes = intent.yes and not (intent.no or intent.thanks or intent.question)
        if plain_yes or (intent.cancel and not intent.question):
            return _call("cancel_booking", booking_id=cancelling.id)
        if intent.no or intent.ack or intent.thanks:
            slot = format_slot(cancelling.start, deps.zone, deps.lang)
            return _text(deps, say(deps.lang, "cancel_kept", service=cancelling.service, slot=slot))

    # "Shall I ask <owner>?" answered yes: the owner is asked (the conversation handed off).
    offered_owner = m.owner_offered_turn and m.owner_offered_turn == m.turn - 1
    # "ok thx" there is as often "never mind": only a plain yes asks them.
    plain = intent.yes and not (intent.no or intent.thanks or intent.question or intent.topics)
    plain = plain and not any(c.isdigit() for c in r.text)  # "ok 9 then" answers something else
    if offered_owner and plain and not (r.when.found or r.service.service):
        return _call("hand_off", reason=DOES_NOT_KNOW)

    # "sorry, wrong number": nothing to book, nothing to change.
    wrong = intent.wrong_number and not (intent.cancel or intent.move or r.service.service)
    if wrong and not r.when.found and deps.reminded is None:
        m.offered_slots, m.proposal, m.pending, m.last_list = [], None, None, None
        return _text(deps, say(deps.lang, "wrong_number"))

    # "never mind", "nvm i'll call": nothing more is offered until they ask again.
    asks = r.when.found or r.service.service or intent.cancel or intent.move or intent.topics
    if intent.dropped and not asks and deps.reminded is None:
        m.offered_slots, m.proposal, m.pending, m.last_list = [], None, None, None
        return _text(deps, say(deps.lang, "dropped"))

    # Right after the reminder, the visitor answers it; mid-offer since, "oui" answers the
    # offer (a button always answers the reminder).
    fresh = deps.reminded is not None and deps.reminded.fresh
    busy = bool(m.proposal or m.offered_slots or m.pending or m.last_list) and not fresh
    if (deps.reminded is not None and not busy) or button:
        answered = _answer_to_reminder(deps, r, r.text)
        if answered is not None:
            return answered
        if button:
            # A button naming a booking that is not this visitor's: nothing is done.
            return _text(deps, say(deps.lang, "no_booking"))
        about = _about_reminded(deps, r)
        if about is not None:
            return about

    # Cancelling or moving one of this conversation's bookings.
    if m.last_list == "bookings" and m.offered_bookings:
        n = r.choice(len(m.offered_bookings))
        # "the cleaning", "la del jueves 10": the booking named, not a new one.
        if n is None:
            offered = [b for b in map(m.booking, m.offered_bookings) if b is not None]
            named_one = _booking_named(deps, r, offered)
            booking_id = named_one.id if named_one is not None else None
        else:
            booking_id = m.offered_bookings[n - 1]
        if booking_id is not None:
            m.offered_bookings, m.last_list = [], None
            if m.moving == "?":
                m.moving = booking_id
                return _find_for_booking(deps, r, booking_id)
            return _call("cancel_booking", booking_id=booking_id)
        if (intent.yes or intent.ack) and not (intent.cancel or intent.move or r.when.found):
            return _ask_which_booking(deps)  # "sí" to "which booking?": the question stands
    second_thought = r.when.found and _CHANGE_OF_MIND.search(fold(r.text))
    late = "lateness" in intent.topics and not (intent.question or intent.cancel or intent.move)
    if late and live and not intent.keep:
        # "running 10 min late": told, not a question about the policy; the owner hears it.
        return _call("hand_off", reason=RUNNING_LATE)
    if intent.keep and len(live) == 1 and not (intent.move or second_thought):
        # "please don't cancel, I'm running late": it stays, and a question is still answered.
        slot = format_slot(live[0].start, deps.zone, deps.lang)
        kept = say(deps.lang, "cancel_kept", service=live[0].service, slot=slot)
        if not intent.topics:
            return _text(deps, kept)
        deps.said.append(kept)
        deps.turn_topics = list(intent.topics)
        topic = "price" if "price" in intent.topics else intent.topics[0]
        return _call("business_info", topic=topic)
    gone = [b for b in m.bookings if b.status == "cancelled"]
    if intent.keep and gone and m.cancelled_turn == m.turn - 1 and not (intent.move or live):
        # "cancel my haircut" and, once it is cancelled, "no wait keep it": its time again,
        # put to them, if it is still free.
        local = gone[-1].start.astimezone(deps.zone)
        day = local.date()
        return _find(deps, gone[-1].service_id, When(first=day, last=day, clock=local.time()))
    named = _booking_named(deps, r, live) if len(live) > 1 else None
    if intent.cancel and not intent.move:
        if not live:
            return _prove_first(deps, r, "cancel")
        if intent.question and len(live) == 1:
            # "can I cancel if I'm running late?" may ask what is allowed: asked, not done.
            return _ask_to_cancel(deps, live[0])
        if named is not None:  # "cancel the cleaning" with a cleaning and a check-up
            if intent.question:
                return _ask_to_cancel(deps, named)
            return _call("cancel_booking", booking_id=named.id)
        return _call("cancel_booking")
    if intent.move and not live and not m.moving and not m.offered_slots:
        if _can_prove(deps):
            return _prove_first(deps, r, "move")
        # A channel that proves who writes, and no booking of theirs: said, then the times
        # asked for are offered as for a new booking.
        deps.said.append(say(deps.lang, "no_booking"))
    if intent.cant and live and not (intent.move or intent.cancel or m.moving):
        # "I can't make it thursday": cancel or move? "...can we do next week?": moved. The
        # day said with "can't make it" is the booking's; another day is where it goes.
        booking = _booking_on(live, r.cant_day, deps.zone) if r.cant_day else None
        booking = booking or named or _booking_on(live, r.when.first, deps.zone)
        if booking is not None:
            if _another_time(deps, r, booking):
                m.moving = booking.id
                return _find_for_booking(deps, r, booking.id)
            m.cancelling = booking.id  # a yes cancels it, a day moves it
            slot = format_slot(booking.start, deps.zone, deps.lang)
            return _text(deps, say(deps.lang, "cant_make_it", service=booking.service, slot=slot))
    about_mine = intent.mine or (
        intent.asks_when
        and live
        and not (r.when.found or r.service.service or intent.book or intent.topics)
    )
    same = _SAME_DAY.search(fold(r.text)) or _SAME_TIME.search(fold(r.text))
    if same and len(live) == 1 and not (m.moving or m.offered_slots or intent.cancel):
        other = r.service.service is not None and r.service.service.id != live[0].service_id
        if other or intent.book:  # "a beard trim same time tomorrow": a booking of its own
            same = None
    if same and len(live) == 1 and not (m.moving or m.offered_slots or intent.cancel):
        # "can we do next week same day?": their booking, moved.
        m.moving = live[0].id
        return _find_for_booking(deps, r, live[0].id)
    added = r.service.service is not None and not (m.moving or intent.cancel or intent.move)
    after = _right_after(deps, r) if added else None
    if after is not None and r.service.service is not None:
        # "can i add a beard trim to my booking?": that service when the booking ends.
        return _find(deps, r.service.service.id, after)
    again = intent.another and live and r.service.service is None
    if again and not (m.moving or intent.cancel or intent.move):
        # "and another one right after for my brother": the service just booked, again,
        # when that booking ends (or on its day, or on the day said).
        after = _right_after(deps, r)
        if after is None:
            day = r.when.first or live[-1].start.astimezone(deps.zone).date()
            after = replace(r.when, first=day, last=r.when.last or day)
        return _find(deps, live[-1].service_id, after)
    before = _booked_the_day_after(deps, r, live) if intent.earlier else None
    if before is not None and not (m.moving or m.offered_slots or intent.cancel):
        # "got anything sooner than friday?" with a booking on Friday: that booking, moved
        # to the days before it; not a second booking.
        m.moving = before.id
        return _find_for_booking(deps, r, before.id)
    shift = (intent.earlier or intent.later) and not (intent.earlier and intent.later)
    if shift and live and not (m.moving or m.offered_slots or intent.cancel or intent.move):
        # "can i come 15 min earlier on thursday?": their booking that day, earlier or later.
        booking = named or _booking_on(live, r.when.first, deps.zone)
        if booking is not None and not _another_time(deps, r, booking):
            m.moving = booking.id
            return _find_for_booking(deps, r, booking.id)
    if intent.details_change and not (intent.cancel or intent.move or r.when.found):
        # "can i change the name on my booking?": the owner changes what a booking holds.
        return _dont_know(deps)
    # "i booked for thursday at 11": told what the calendar holds, not offered that time.
    says_mine = intent.mine and r.when.found and any(not _another_time(deps, r, b) for b in live)
    if ((about_mine and intent.question) or says_mine) and not (intent.cancel or intent.move):
        # "what time is my appointment?": their bookings, once this chat knows who they are.
        if live:
            return _text(deps, _bookings_text(deps))
        if _can_prove(deps):
            return _prove_first(deps, r, "show")
        return _text(deps, say(deps.lang, "no_upcoming"))
    if intent.wrong_booking and live and not (m.moving or intent.cancel):
        # "you booked me at the wrong time, i said 11 not 10": that booking, moved.
        booking = named or _booking_on(live, r.when.first, deps.zone)
        if booking is None:
            m.moving = "?"
            return _ask_which_booking(deps)
        m.moving = booking.id
        return _find_for_booking(deps, r, booking.id)
    if intent.move and live and not m.moving:
        if named is not None:  # "move my check-up to friday the 11th"
            m.moving = named.id
            return _find_for_booking(deps, r, named.id)
        if len(live) > 1:
            m.moving = "?"
            return _ask_which_booking(deps)
        m.moving = live[0].id
        return _find_for_booking(deps, r, live[0].id)

    # "ah não, prefiro quinta de manhã" right after booking: a change of mind moves that
    # booking; it does not make a second one.
    just_booked = live and m.booked_turn == m.turn - 1 and live[-1] is m.bookings[-1]
    if just_booked and r.when.found and not m.moving and _CHANGE_OF_MIND.search(fold(r.text)):
        m.moving = live[-1].id
        return _find_for_booking(deps, r, live[-1].id)

    # Answering an offer.
    if m.proposal is not None:
        # "ok, how much is it?": answered first; the offer stands for the yes that follows.
        # "sí, la tercera", "oui le 1": the option picked, not the time put to them.
        picks = r.choice(len(m.offered_slots)) if m.offered_slots else None
        if intent.yes and not (r.when.found or r.service.service or intent.asks_too or picks):
            return _book(deps, m.proposal)
        # "no the 11": another of the times listed, not a refusal of them all.
        other = bare_hour(r.text, len(m.offered_slots)) if m.offered_slots else None
        if intent.no and not (r.when.found or r.service.service or other):
            refused, service_id = m.proposal.start, m.proposal.service_id
            m.proposal = None
            m.offered_slots = [
                o.model_copy(update={"n": i})
                for i, o in enumerate((o for o in m.offered_slots if o.start != refused), 1)
            ]
            if not m.offered_slots:  # it was put alone ("tomorrow?"): that day's times
                day = refused.astimezone(deps.zone).date()
                return _find(deps, service_id, When(first=day, last=day))
            return _text(deps, say(deps.lang, "no_more") + "\n" + _slot_lines(deps))
    if m.last_list == "slots" and m.offered_slots and r.service.service is None:
        # "how much is it first?" asks a price; its "first" picks nothing.
        picked = _pick_slot(deps, r) if not intent.topics else None
        if picked is not None:
            return _book(deps, picked)
        other = _other_than_offered(deps, r)
        if other is not None:
            return other
        hour = bare_hour(r.text, len(m.offered_slots)) if not r.when.found else None
        if hour is not None and m.service_id:
            # "the 11 one" with 11:00 on the list: that one; "11" after three other times:
            # eleven o'clock, on the day asked before.
            at = [o for o in m.offered_slots if o.start.astimezone(deps.zone).time() == hour]
            if len(at) == 1:
                return _book(deps, at[0])
            return _find(deps, m.service_id, When(clock=hour).keep_from(_asked(deps)))
        suits = says_it_suits(r.text) and not intent.question
        that_day = _offered_on_day(deps, r, suits)
        if that_day is not None and (suits or (intent.yes and not intent.question)):
            # "thursday works" with one Thursday on the list: that one, as "the 11 one" is.
            return _book(deps, that_day)
        if that_day is not None:
            # Put to the visitor alone: the list before it would number other days, and "1"
            # after "tomorrow?" means tomorrow's time, not the list's first.
            m.proposal = that_day.model_copy(update={"turn": m.turn})
            m.offered_slots = [that_day.model_copy(update={"n": 1})]
            # The day is the one asked now: "morning" or "10" next is on it.
            day = that_day.start.astimezone(deps.zone).date()
            m.asked = Asked.of(replace(r.when, first=day, last=day))
            slot = format_slot(that_day.start, deps.zone, deps.lang)
            service = deps.service(that_day.service_id)
            name = service.name if service else ""
            return _text(deps, say(deps.lang, "exact_only", slot=slot, service=name))
        if intent.yes and len(m.offered_slots) == 1 and not (r.when.found or intent.asks_too):
            return _book(deps, m.offered_slots[0])
        asks = intent.asks_too or intent.unsure
        if (intent.yes or intent.ack) and not (intent.thanks or intent.bye or r.when.found or asks):
            # "ok" to a list of times: which one?
            return _text(deps, say(deps.lang, "ask_which") + "\n" + _slot_lines(deps))

    # Questions about the business ("tem horário sexta?" asks for a time, not the hours).
    booking_words = r.when.found or r.service.service is not None
    topics = tuple(
        t for t in intent.topics if _asks_topic(t, intent, booking_words, r.when.clock is not None)
    )
    if not topics:
        topics = _implied_topics(deps, r)
    if topics and not booking_words and faq_answer(deps, r.text).found:
        # "where can I park?" asks where, and the business's "Do you have parking?" answers it.
        return _call("search_faq", question=r.text)
    if topics:
        intent = replace(intent, topics=topics)
        topic = "price" if "price" in intent.topics else intent.topics[0]
        deps.turn_topics = list(intent.topics)
        if r.when.found:  # "open on friday?" then "4pm then for a haircut": that friday
            m.asked = Asked.of(r.when.keep_from(_asked(deps)))
        return _call("business_info", topic=topic)
    # "hacéis barba?" with two beard services: which one, unless the business's own answers
    # speak of it ("do u cut children's hair??").
    which = bool(r.service.candidates) and not faq_answer(deps, r.text).found
    if intent.question and not (r.when.found or r.service.service or intent.book or which):
        return _call("search_faq", question=r.text)
    if intent.walk_in and not intent.topics:
        # "do you take walk ins?", "how long is the wait right now?": the business's to say.
        return _call("search_faq", question=r.text)
    if intent.question and intent.of_the_service and not (r.when.found or intent.book):
        # "is the whitening painful?": about the service, for the business's own answers.
        return _call("search_faq", question=r.text)

    # Choosing a service and a time.
    service = r.service.service
    if service is None and r.service.candidates:
        m.offered_services = [c.id for c in r.service.candidates]
        m.last_list = "services"
        if r.when.found:  # "thursday afternoon for a beard?": kept for the one they pick
            m.asked = Asked.of(r.when.keep_from(_asked(deps)))
        return _text(
            deps,
            say(deps.lang, "which_service")
            + "\n"
            + numbered([c.name for c in r.service.candidates]),
        )
    if service is None and m.last_list == "services" and m.offered_services:
        n = r.choice(len(m.offered_services))
        if n is None and set(words(r.text)) & GROWN_UP:
            # "the normal one" of "Haircut" and "Kids haircut": the one not for children.
            grown = [i for i, sid in enumerate(m.offered_services, 1) if not _childs(deps, sid)]
            n = grown[0] if len(grown) == 1 else None
        if n is not None:
            service_id = m.offered_services[n - 1]
            return _find(deps, service_id, r.when.keep_from(_asked(deps)))
        # "sì" or "sì grazie" to "which service?": the question stands ("grazie" alone ends).
        thanks_only = intent.thanks and not intent.yes
        if (intent.yes or intent.ack) and not (thanks_only or intent.bye or r.when.found):
            return _call("list_services")
    if service is not None:
        if r.service.also:  # "haircut and a beard trim" where nothing sells both
            others = format_list_of([s.name for s in r.service.also], deps.zone, deps.lang)
            deps.said.append(say(deps.lang, "one_at_a_time", service=service.name, others=others))
        after = _right_after(deps, r)
        if after is not None:  # "and a beard trim right after?": when the booking ends
            return _find(deps, service.id, after)
        # The day asked stands for the service named next (asked before any service was), or
        # for the same one named again, or for another one put in its place ("actually make
        # it a haircut and beard", "mejor corte y barba"); another service starts afresh.
        instead = m.last_list == "slots" and bool(_CHANGE_OF_MIND.search(fold(r.text)))
        keep = m.service_id is None or service.id == m.service_id or instead
        return _find(deps, service.id, r.when.keep_from(_asked(deps) if keep else None))
    if live and (intent.thanks or intent.bye) and not (intent.book or intent.question):
        # "merci, à jeudi !", "see you on friday": a goodbye that names the day, not a request.
        return _farewell(deps, "thanks" if intent.thanks and not intent.bye else "see_you")
    # "whats the soonest i could do one" asks for a time as much as a day named does.
    in_talk = _service_in_talk(deps)
    if (r.when.found or intent.earliest) and in_talk:
        return _find(deps, in_talk, r.when.keep_from(_asked(deps)))
    if (m.turn == 1 or intent.greeting) and not (intent.thanks or intent.bye):
        if r.when.found:
            m.asked = Asked.of(r.when.keep_from(_asked(deps)))
        return _call("list_services")
    # "ok book one for saturday" asks for something: not a bare "ok".
    asks = intent.book or (r.when.found and not (intent.thanks or intent.bye))
    if (intent.ack or intent.thanks or intent.bye) and not asks:
        if intent.thanks and not intent.bye:
            return _farewell(deps, "thanks")
        if live:
            return _farewell(deps, "see_you")
        return _text(deps, say(deps.lang, "anything_else"))
    if r.when.found or intent.book or intent.earliest:
        if r.when.found:  # kept for the service they pick next
            m.asked = Asked.of(r.when.keep_from(_asked(deps)))
        return _call("list_services")
    return None


def _childs(deps: AgentDeps, service_id: str) -> bool:
    service = deps.service(service_id)
    return service is not None and bool(set(words(service.name)) & CHILDS_SERVICE)


def _asks_topic(topic: str, intent: Intent, booking_words: bool, clock: bool) -> bool:
    """With a service or a day named, "hours" is more often a time asked for ("tem horário
    sexta?") unless it asks when the business opens, and a time named is asked for ("is the
    3pm slot tomorrow still open?"); another topic is asked when the message is a question
    ("quanto custa a limpeza e onde fica?"), not a remark ("hatha class, i'll pay in cash").
    Price and duration are asked either way."""
    if not booking_words or topic in ("price", "duration"):
        return True
    if topic == "hours":
        return intent.opening and not clock
    return intent.question and topic not in ("services", "horizon")


def _asked(deps: AgentDeps) -> When | None:
    return deps.memory.asked.when() if deps.memory.asked else None


def _noted(deps: AgentDeps) -> str:
    """ "Noted: Wednesday, 2 December 2026, 09:00." ahead of the service question, when this
    message said when (asked the same question again, it would read as not understood)."""
    r, asked = deps.reading, _asked(deps)
    if r is None or not r.when.found or asked is None:
        return ""
    zone, lang = deps.zone, deps.lang
    parts = []
    if asked.first is not None:
        parts.append(format_days(asked.first, asked.last or asked.first, zone, lang))
    if asked.clock is not None:
        parts.append(format_clock(asked.clock, zone, lang))
    elif asked.window is not None:
        parts.append(window_label(asked.window, zone, lang))
    return say(lang, "noted_when", when=", ".join(parts)) + "\n" if parts else ""


def _find(deps: AgentDeps, service_id: str, when: When) -> ModelResponse:
    r = deps.reading
    several = r is not None and r.intent.party and not (r.service.also or deps.memory.moving)
    note = say(deps.lang, "one_visit_at_a_time")
    if several and note not in deps.said:  # "can 2 of us come tomorrow afternoon?"
        deps.said.append(note)
    window = when.window
    return _call(
        "find_free_slots",
        service_id=service_id,
        day=when.first.isoformat() if when.first else None,
        end_day=when.last.isoformat() if when.last and when.last != when.first else None,
        near_time=when.clock.strftime("%H:%M") if when.clock else None,
        after=window[0].strftime("%H:%M") if window and window[0] != time(0) else None,
        before=window[1].strftime("%H:%M") if window and window[1] != time.max else None,
        except_weekdays=[WEEKDAYS[d] for d in when.excluded] or None,
        only_weekdays=[WEEKDAYS[d] for d in when.weekdays] or None,
        latest=when.latest or None,
        not_from=when.avoid[0].strftime("%H:%M") if when.avoid else None,
        not_until=when.avoid[1].strftime("%H:%M") if when.avoid else None,
    )


def _find_for_booking(deps: AgentDeps, r: Reading, booking_id: str) -> ModelResponse:
    booking = deps.memory.booking(booking_id)
    assert booking is not None
    return _find(deps, booking.service_id, _move_when(deps, r, booking))


# The time the visitor says they asked for: "i said 11", "pedí a las 11", "j'avais dit 11h".
_SAID_TIME = re.compile(
    r"\b(?:said|asked for|wanted|meant|booked|dije|pedi|queria|disse|avais dit|voulais|"
    r"gesagt|wollte|detto|volevo)\s(?:at |a las |as |a |um |alle |for )?"
    r"(\d{1,2}(?:[:.h]\d\d)?(?:\s?(?:am|pm|h|uhr))?)"
)


# Words of a change of mind, folded ("ah não, prefiro...", "mejor el jueves", "actually...").
_CHANGE_OF_MIND = re.compile(
    r"\b(?:no|nao|non|nein|nope|actually|instead|rather|prefer|mejor|prefiero|prefiro|melhor|"
    r"plutot|prefere|lieber|doch|invece|preferisco|meglio|"
    # A slip corrected: "oops i meant friday", "quería decir a las 4", "ich meinte Freitag".
    r"meant|i mean|oops|wrong|quise decir|queria decir|quis dizer|queria dizer|me equivoque|"
    r"voulais dire|je veux dire|trompe|meinte|ich meine|vertippt|intendevo|volevo dire|"
    r"sbagliato)\b"
)


# "from thursday to friday", "cancel my appointment on friday and book one on monday
# instead": the day after the last of these is where the booking goes.
_TO = re.compile(
    r"\b(?:to|para|pra|a|al|pour|au|auf|zum|nach|per|alle?|on|and|y|e|et|und|ed|el|le|am|il)\b",
    re.IGNORECASE,
)
# "same time": the booking's own time of day.
_SAME_TIME = re.compile(
    r"same time|misma hora|mismo horario|mesma hora|mesmo horario|meme heure|"
    r"gleiche(?:n)? (?:uhrzeit|zeit)|selbe(?:n)? (?:uhrzeit|zeit)|stessa ora|stesso orario",
    re.IGNORECASE,
)
# "same day" (of the week): the booking's own weekday, within the span asked.
_SAME_DAY = re.compile(
    r"same day|mismo dia|mesmo dia|meme jour|gleichen tag|selben tag|stesso giorno",
    re.IGNORECASE,
)


def _move_when(deps: AgentDeps, r: Reading, booking: BookingRef) -> When:
    """When the visitor wants the booking moved to: "from thursday to friday" is friday, and
    "same time" is the booking's time."""
    when = r.when
    local = booking.start.astimezone(deps.zone)
    text = fold(r.text)  # "à vendredi", "même heure"
    if when.first == local.date():
        for to in reversed(list(_TO.finditer(text))):
            later = read_when(text[to.end() :], deps.now.date(), deps.lang)
            if later.first is not None and later.first != local.date():
                when = replace(when, first=later.first, last=later.last)
                break
    said = _SAID_TIME.search(text) if r.intent.wrong_booking and when.clock is None else None
    if said is not None:
        # "i said 11 not 10": the time said, on the booking's day unless another is named.
        clock = read_when("at " + said.group(1), deps.now.date(), "en").clock
        if clock is not None:
            day = when.first or local.date()
            when = replace(when, first=day, last=when.last or day, clock=clock)
    if _SAME_TIME.search(text) and when.clock is None and when.window is None:
        when = replace(when, clock=local.time().replace(second=0, microsecond=0))
    if _SAME_DAY.search(text) and when.first is not None and when.last and when.last > when.first:
        # "next week same day": that week's day with the booking's weekday.
        span = (when.first + timedelta(days=d) for d in range((when.last - when.first).days + 1))
        day = next((d for d in span if d.weekday() == local.weekday()), None)
        if day is not None:
            when = replace(when, first=day, last=day)
    later, earlier = r.intent.later, r.intent.earlier
    own_day = r.when.first in (None, local.date()) and r.when.window is None
    if (later or earlier) and not (later and earlier) and own_day and r.when.clock is None:
        # "can I come 15 min later?", "30 min earlier": that day, after (or before) its time;
        # "an hour later", "una hora antes": that much after (or before) it.
        at = local.time().replace(second=0, microsecond=0)
        when = replace(when, window=(at, time.max) if later else (time(0), at))
        by = shift_minutes(r.text)
        moved = local + timedelta(minutes=by if later else -by) if by else None
        if moved is not None and moved.date() == local.date():
            day = local.date()
            when = replace(when, first=day, last=day, clock=moved.time().replace(tzinfo=None))
    if when.first is None and (when.clock is not None or when.window is not None):
        # "I meant 4pm", "can it be at 11?": another time on the booking's own day.
        when = replace(when, first=local.date(), last=local.date())
    return when


def _book(deps: AgentDeps, offer: Offer) -> ModelResponse:
    start = offer.start.isoformat()
    if deps.memory.moving and deps.memory.booking(deps.memory.moving):
        return _call("move_booking", start=start, booking_id=deps.memory.moving)
    return _call("book_slot", service_id=offer.service_id, start=start)


def _pick_slot(deps: AgentDeps, r: Reading) -> Offer | None:
    offered = deps.memory.offered_slots
    zone = deps.zone
    locals_ = [o.start.astimezone(zone) for o in offered]
    # "after 3" is a bound, not the third time offered ("before 2" no second).
    window = r.when.window
    bound = window is not None and (window[0] == time(0) or window[1] == time.max)
    # "either is fine" leaves the choice to us; "either monday or tuesday" does not.
    any_is_first = not r.when.found
    n = (
        r.choice(len(offered), any_is_first=any_is_first)
        if r.when.clock is None and not bound
        else None
    )
    days = {t.date() for t in locals_}
    if n is not None and (
        r.when.first is None or r.when.first not in days or days == {r.when.first}
    ):
        # "a segunda" after a list is the second option, not Monday; "the 2nd" when every
        # time offered is on the 2nd is the second of them.
        return offered[n - 1]
    if window is not None and r.when.clock is None and _THE_ONE.search(fold(r.text)):
        # "the afternoon one", "la de la tarde": the one offered time in that part of the day.
        within = [
            i
            for i, local in enumerate(locals_)
            if window[0] <= local.time() < window[1]
            and (r.when.first is None or local.date() == r.when.first)
        ]
        return offered[within[0]] if len(within) == 1 else None
    if r.when.clock is None and r.when.first is None:
        return None
    if r.when.clock is not None:
        matching = [
            i
            for i, local in enumerate(locals_)
            if local.time() == r.when.clock
            and (r.when.first is None or local.date() == r.when.first)
        ]
        if len(matching) == 1:
            return offered[matching[0]]
        n = pick_by_time(r.when.clock, [t.time() for t in locals_])
        return offered[n - 1] if n is not None and r.when.first is None else None
    return None


# A time offered named by what sets it apart: "the afternoon one", "la de la tarde", "a da
# manhã", "celui du matin", "quello del pomeriggio".
_THE_ONE = re.compile(r"\b(?:one|la de|el de|a da|o da|a de|o de|celui|celle|quello|quella)\b")


def _other_than_offered(deps: AgentDeps, r: Reading) -> ModelResponse | None:
    """ "anything later?": that day after the last time offered; "any earlier?": the days
    before the one offered (or that day before the first time, when it is today); "none of
    those work": which other day or time, then."""
    m, intent = deps.memory, r.intent
    # "anything earlier than 10?" bounds the day asked: read as any bound, not as this.
    window = r.when.window
    bound = window is not None and (window[0] == time(0) or window[1] == time.max)
    if r.when.first is not None or r.when.clock is not None or bound or not m.service_id:
        return None
    offered = sorted(o.start.astimezone(deps.zone) for o in m.offered_slots)
    if intent.later and not intent.earlier:
        last = offered[-1]
        # From the next quarter hour: slot grids are 15, 30 or 60 minutes, and "after 16:15"
        # reads as people say it ("after 16:01" would not).
        after = last + timedelta(minutes=15 - last.minute % 15)
        window = (after.time().replace(second=0, microsecond=0), time.max)
        return _find(deps, m.service_id, When(first=last.date(), last=last.date(), window=window))
    if intent.earlier and not intent.later:
        first, today = offered[0], deps.now.date()
        if first.date() > today:  # the days before the one offered
            before = first.date() - timedelta(days=1)
            return _find(deps, m.service_id, When(first=today, last=before))
        window = (time(0), first.time())
        return _find(deps, m.service_id, When(first=today, last=today, window=window))
    if intent.none and not r.when.found:
        m.proposal = None
        return _text(deps, say(deps.lang, "none_suit"))
    return None


def _right_after(deps: AgentDeps, r: Reading) -> When | None:
    """The end of the visitor's latest booking, asked as the time of another service ("and a
    beard trim right after?"); None unless the message says so and no other time."""
    live = deps.memory.live_bookings
    if not live or r.when.clock is not None or not r.intent.right_after:
        return None
    booking = _booking_on(live, r.when.first, deps.zone) if r.when.first else live[-1]
    if booking is None:
        return None
    service = deps.service(booking.service_id)
    if service is None or not service.duration_minutes:
        return None
    ends = (booking.start + timedelta(minutes=service.duration_minutes)).astimezone(deps.zone)
    return When(first=ends.date(), last=ends.date(), clock=ends.time().replace(tzinfo=None))


def _offered_on_day(deps: AgentDeps, r: Reading, suits: bool = False) -> Offer | None:
    """ "monday instead?" with one offered time on Monday: that time, to be put to the visitor
    (a day is not yet a choice of time, so it is asked, not booked); "monday works" (`suits`)
    chooses it."""
    if r.when.first is None or r.when.window is not None or r.when.clock is not None:
        return None
    zone = deps.zone
    offered = deps.memory.offered_slots
    day = r.when.first
    on_day = [o for o in offered if o.start.astimezone(zone).date() == day]
    if not on_day:  # "tuesday?" with next week's Tuesday on the list: that Tuesday
        on_day = [o for o in offered if o.start.astimezone(zone).weekday() == day.weekday()]
    return on_day[0] if len(on_day) == 1 and (r.intent.short or suits) else None


def _booking_named(deps: AgentDeps, r: Reading, live: list[BookingRef]) -> BookingRef | None:
    """The one booking of several that the message names by its service or its day ("cancel
    the cleaning", "cancelar la del jueves 3"); None when that does not settle it."""
    if r.service.service is None and r.when.first is None and not r.service.candidates:
        return None
    named = live
    if r.service.service is not None:
        named = [b for b in named if b.service_id == r.service.service.id]
    elif r.service.candidates:  # "cancel the beard" with a beard trim booked, no haircut+beard
        ids = {c.id for c in r.service.candidates}
        named = [b for b in named if b.service_id in ids] or named
    if r.when.first is not None:
        # A day that is no booking's is where a move goes, not which booking moves.
        on_day = [b for b in named if b.start.astimezone(deps.zone).date() == r.when.first]
        named = on_day or named
    return named[0] if len(named) == 1 else None


def _bookings_text(deps: AgentDeps) -> str:
    lines = [
        f"{b.service}, {format_slot(b.start, deps.zone, deps.lang)}"
        for b in deps.memory.live_bookings
    ]
    return say(deps.lang, "your_bookings") + "\n" + numbered(lines)


def _booking_on(live: list[BookingRef], day: date | None, zone: ZoneInfo) -> BookingRef | None:
    """The one booking on `day` ("can't make it thursday"), or the only one."""
    if day is not None:
        on_day = [b for b in live if b.start.astimezone(zone).date() == day]
        if len(on_day) == 1:
            return on_day[0]
    return live[0] if len(live) == 1 else None


def _service_in_talk(deps: AgentDeps) -> str | None:
    """The service this talk is about: the one asked for, or the business's only one."""
    m = deps.memory
    return m.service_id or (deps.services[0].id if len(deps.services) == 1 else None)


def _booked_the_day_after(deps: AgentDeps, r: Reading, live: list[BookingRef]) -> BookingRef | None:
    """The one booking on the day right after the days asked, when those start today ("anything
    sooner than friday?" reads as today to Thursday)."""
    first, last = r.when.first, r.when.last
    if first is None or last is None or first != deps.now.date() or r.when.clock is not None:
        return None
    after = [b for b in live if b.start.astimezone(deps.zone).date() == last + timedelta(days=1)]
    return after[0] if len(after) == 1 else None


def _another_time(deps: AgentDeps, r: Reading, booking: BookingRef) -> bool:
    """The message names a day or time other than the booking's own ("thursday at 11" of a
    booking then is the booking)."""
    when = r.when
    if not when.found:
        return False
    local = booking.start.astimezone(deps.zone)
    same_day = when.first is None or when.first == local.date() == (when.last or when.first)
    same_time = when.clock in (None, local.time().replace(second=0, microsecond=0))
    return not (same_day and same_time and when.window is None)


def _ask_to_cancel(deps: AgentDeps, booking: BookingRef) -> ModelResponse:
    """ "Shall I cancel it?"; after the cancellation policy when the message asked it too
    ("please cancel it, do you charge for cancelling this late?")."""
    deps.memory.cancelling = booking.id
    slot = format_slot(booking.start, deps.zone, deps.lang)
    ask = say(deps.lang, "cancel_ask", service=booking.service, slot=slot)
    policy = deps.facts.policies.cancellation if deps.facts else None
    asked = deps.reading is not None and "cancellation" in deps.reading.intent.topics
    if asked and policy:
        ask = say(deps.lang, "cancellation", text=policy) + "\n" + ask
    return _text(deps, ask)


def _ask_which_booking(deps: AgentDeps) -> ModelResponse:
    live = deps.memory.live_bookings
    deps.memory.offered_bookings = [b.id for b in live]
    deps.memory.last_list = "bookings"
    lines = [f"{b.service}, {format_slot(b.start, deps.zone, deps.lang)}" for b in live]
    return _text(deps, say(deps.lang, "which_booking") + "\n" + numbered(lines))


# -- after a tool ------------------------------------------------------------------------


def _after_tool(deps: AgentDeps, tool: str, result: Any) -> ModelResponse:
    lang, name = deps.lang, deps.workspace.name
    if tool == "stop_reminders":
        if deps.effects.handoff_reason != WRONG_NUMBER:
            return _text(deps, say(lang, "stopped", name=name))
        text = say(lang, "wrong_number_told", name=name) + "\n" + say(lang, "handoff", name=name)
        return ModelResponse(parts=[TextPart(text)], model_name=MODEL_NAME)
    if tool == "hand_off":
        text = say(lang, "handoff", name=name)
        if deps.effects.handoff_reason == COMPLAINT:
            text = say(lang, "sorry_to_hear") + " " + text
        if deps.effects.handoff_reason == RUNNING_LATE:
            policy = (deps.facts.policies.lateness if deps.facts else None) or ""
            text = (say(lang, "late_told", name=name) + " " + policy).strip() + "\n" + text
        text = "\n".join([*deps.said, text])  # what was done first ("Thanks for confirming!")
        return ModelResponse(parts=[TextPart(text)], model_name=MODEL_NAME)
    if isinstance(result, ServicesResult):
        if not result.services:
            return _call("hand_off", reason="no bookable services")
        if len(result.services) == 1:
            only = result.services[0].service_id
            return _find(deps, only, deps.reading.when if deps.reading else When())
        lines = [_service_line(s.name, s.duration_minutes, s.price) for s in result.services]
        noted = _noted(deps)
        if result.closed_on:  # "do you work saturdays?": closed, said before the services
            noted = say(lang, "closed_then", day=result.closed_on) + "\n"
        return _text(deps, noted + say(lang, "pick_service") + "\n" + numbered(lines))
    if isinstance(result, SlotsResult):
        return _text(deps, _slots_text(deps, result))
    if isinstance(result, BookingResult):
        return _booking_text(deps, result)
    if isinstance(result, ConfirmResult):
        if result.status == "confirmed" and result.booking:
            confirmed = say(
                lang,
                "confirmed_visit",
                deps.workspace.tone,
                slot=result.local or "",
                service=result.booking.service,
            )
            return _and_the_questions(deps, confirmed)
        return _text(deps, say(lang, "no_booking"))
    if isinstance(result, CodeResult):
        return _code_text(deps, result)
    if isinstance(result, CancelResult):
        if result.status == "cancelled" and result.booking:
            cancelled = say(
                lang, "cancelled", service=result.booking.service, slot=result.local or ""
            )
            return _and_the_questions(deps, cancelled)
        if result.status == "which":
            return _ask_which_booking(deps)
        return _text(deps, say(lang, "no_booking"))
    if isinstance(result, InfoResult):
        return _info_text(deps, result)
    if isinstance(result, FaqResult):
        if result.found and result.answer:
            deps.memory.unknown_questions = 0
            return _text(deps, result.answer)
        return _dont_know(deps)
    return _text(deps, say(lang, "not_understood"))


# The visitor's "my" said back to them ("for my husband" -> "for your husband").
_YOURS = {"my": "your", "mi": "tu", "mis": "tus", "minha": "sua", "meu": "seu", "mon": "votre",
          "ma": "votre", "meinen": "Ihren", "meine": "Ihre", "mein": "Ihr", "mio": "tuo",
          "mia": "tua"}  # fmt: skip
_POSSESSIVE = re.compile(rf"\b({'|'.join(_YOURS)})\b", re.IGNORECASE)


def _yours(who: str) -> str:
    return _POSSESSIVE.sub(lambda m: _YOURS[m.group(1).lower()], who, count=1)


def _and_the_questions(deps: AgentDeps, text: str) -> ModelResponse:
    """`text` (what was done), then what the same message asked about the business ("sí ahí
    estaré! una pregunta, aceptan tarjeta?"), answered after it."""
    topics = list(deps.reading.intent.topics) if deps.reading else []
    if not topics or deps.turn_topics or deps.said:
        return _text(deps, text)
    if "lateness" in topics and deps.reading is not None and not deps.reading.intent.question:
        # "yes but i might be 10 min late": confirmed, and the owner hears of it.
        deps.said.append(text)
        return _call("hand_off", reason=RUNNING_LATE)
    deps.said.append(text)
    deps.turn_topics = topics
    return _call("business_info", topic="price" if "price" in topics else topics[0])


def _slots_text(deps: AgentDeps, result: SlotsResult) -> str:
    lang, zone = deps.lang, deps.zone
    service, tz = result.service, result.timezone
    if not result.slots:
        return say(lang, "none", service=service)
    day = result.asked_day or ""
    window = _window_of(result)
    when = window_label(window, zone, lang) if window else ""
    m = deps.memory
    earliest = deps.reading is not None and deps.reading.intent.earliest
    if earliest and not result.exact_match and result.note is None and m.offered_slots:
        # "the earliest possible": the first free time, put to the visitor as one asked for.
        m.proposal = m.offered_slots[0].model_copy(update={"n": 0})
        head = say(lang, "exact", slot=result.slots[0].local, service=service)
    elif result.exact_match:
        from datetime import datetime

        exact = format_slot(datetime.fromisoformat(result.exact_match), zone, lang)
        key = "exact_move" if m.moving else "exact"  # a move is put as a move
        head = say(lang, key, slot=exact, service=service)
    elif result.note == "closed":
        head = say(lang, "closed", day=day, tz=tz)
    elif result.note == "closed_hour" and result.asked_time:
        clock = format_clock(time.fromisoformat(result.asked_time), zone, lang)
        head = say(lang, "closed_hour", time=clock, tz=tz)
    elif result.note == "past":
        head = say(lang, "past", day=day, tz=tz)
    elif result.note == "beyond_horizon":
        head = say(
            lang,
            "horizon",
            day=day,
            days=str(result.horizon_days),
            until=result.horizon_until or "",
            tz=tz,
        )
    elif result.note == "full":
        head = say(lang, "full", days=_days_label(deps, result), service=service, tz=tz)
    elif result.note == "none_left_today":
        head = say(lang, "none_left_today", service=service, tz=tz)
    elif result.note == "closed_window" and when:
        head = say(lang, "closed_window", when=when, days=_days_label(deps, result), tz=tz)
    elif result.note == "window_full":
        head = say(
            lang, "full_window", when=when, days=_days_label(deps, result), service=service, tz=tz
        )
    elif result.asked_time and result.note is None and not earliest:
        # "12:30 tomorrow?" (or "move it to friday same time") where no time starts then:
        # said, then the nearest.
        clock = format_clock(time.fromisoformat(result.asked_time), zone, lang)
        head = say(lang, "not_free_at", time=clock, service=service, tz=tz)
    elif m.moving:
        head = say(lang, "which_new", service=service, tz=tz)
    elif when:
        head = say(lang, "pick_slot_window", service=service, when=when, tz=tz)
    else:
        head = say(lang, "pick_slot", service=service, tz=tz)
    lines = [s.local for s in result.slots]
    return head + "\n" + numbered(lines) + "\n" + say(lang, "pick_slot_hint")


def _window_of(result: SlotsResult) -> tuple[time, time] | None:
    if result.window is None:
        return None
    start, end = (time.fromisoformat(v) for v in result.window)
    if end == time(23, 59) or result.window[1].startswith("23:59"):
        end = time.max
    return start, end


def _days_label(deps: AgentDeps, result: SlotsResult) -> str:
    first = date.fromisoformat(result.searched_from)
    last = date.fromisoformat(result.searched_to)
    label = format_day(first, deps.zone, deps.lang)
    if last != first:
        label += " \u2013 " + format_day(last, deps.zone, deps.lang)
    return label


def _booking_text(deps: AgentDeps, result: BookingResult) -> ModelResponse:
    lang, tone = deps.lang, deps.workspace.tone
    tz = _tz(deps)
    if result.status == "booked" and result.booking:
        key = "moved" if result.moved_from else "booked"
        text = say(lang, key, tone, service=result.booking.service, slot=result.local or "", tz=tz)
        if result.for_whom:  # "I've noted it is for your husband John."
            text += "\n" + say(lang, "booked_for", who=_yours(result.for_whom))
        return _text(deps, text)
    if result.status == "taken":
        if not result.slots:
            return _text(deps, say(lang, "none", service=result.service or ""))
        return _text(
            deps,
            say(lang, "taken", slot=result.requested or "", service=result.service or "")
            + "\n"
            + numbered([s.local for s in result.slots]),
        )
    if result.status == "needs_details":
        pending = deps.memory.pending
        assert pending is not None
        return _ask_details(deps, result.missing, pending)
    if result.status == "needs_proof":
        deps.memory.proving_for = "book"
        if deps.visitor.email:  # given already (the owner asked for it): prove that one
            return _call("request_identity_code", email=deps.visitor.email)
        return _text(deps, say(lang, "verify_first", slot=result.local or ""))
    if result.status == "address_limit":
        return _text(
            deps, say(lang, "address_limit") + "\n" + say(lang, "handoff", name=deps.workspace.name)
        )
    if result.status == "limit":
        return _text(
            deps,
            say(lang, "limit", n=result.detail or "")
            + "\n"
            + say(lang, "handoff", name=deps.workspace.name),
        )
    if result.status == "refused":
        return _call(
            "hand_off", reason=f"calendar refused the booking: {result.detail or ''}"[:200]
        )
    return _text(deps, say(lang, "ask_which") + "\n" + _slot_lines(deps))


def _implied_topics(deps: AgentDeps, r: Reading) -> tuple[Topic, ...]:
    """A business question asked without its usual words: naming a payment method the
    business lists ("and bizum?"), or a short follow-up to the question just answered, of
    another day ("e domingo?" after the hours) or another service ("and the kids one?" after
    a price)."""
    intent, m = r.intent, deps.memory
    if intent.book or intent.yes or intent.no or intent.thanks or intent.bye:
        return ()
    folded = f" {' '.join(words(r.text))} "
    methods = deps.facts.payment_methods if deps.facts else ()
    # "hatha class, i'll pay in cash" books, and says how; "and bizum?" asks.
    booking = r.service.service is not None or r.when.found
    named = any(f" {' '.join(words(method))} " in folded for method in methods)
    if named and (intent.question or not booking):
        return ("payment",)
    if m.topic_turn != m.turn - 1 or len(folded.split()) > FOLLOW_UP_WORDS:
        return ()
    # "and on sunday?" asks the hours again; "e segunda de manhã tem?", with a part of the
    # day or a time, asks for free times.
    day_only = r.when.clock is None and r.when.window is None
    if m.last_topic == "hours" and r.when.found and day_only and r.service.service is None:
        return ("hours",)
    other = r.service.service is not None and r.service.service.id != m.service_id
    if m.last_topic in ("price", "duration") and other and not r.when.found:
        # Another service; the one just priced, named again, is the wish to book it.
        return (m.last_topic,)  # type: ignore[return-value]
    return ()


FOLLOW_UP_WORDS = 6  # "and what about on sunday then?": longer asks something new


def _info_text(deps: AgentDeps, result: InfoResult) -> ModelResponse:
    """The fact asked for; when the message asked more than one ("où êtes-vous ? et on peut
    payer par carte ?"), each in turn, the answers one after the other."""
    lang, zone, name = deps.lang, deps.zone, deps.workspace.name
    topic = result.topic
    # Asked in the same message and not answered yet (a price answers its duration too).
    asked_duration = "duration" in deps.turn_topics
    answered = {topic, "duration"} if topic == "price" else {topic}
    deps.turn_topics = [t for t in deps.turn_topics if t not in answered]
    if not result.found and topic == "hours":
        return _text(deps, say(lang, "hours_unknown"))
    if not result.found:
        wanted = _services_asked(deps) if topic in ("price", "duration", "about") else []
        return _missing(deps, _no_prices(deps, wanted, asked_duration, topic))
    deps.memory.unknown_questions = 0
    deps.memory.last_topic, deps.memory.topic_turn = topic, deps.memory.turn
    facts = result.facts
    if topic in ("price", "duration", "about"):
        by_name = {s.name: s for s in deps.services}
        wanted = _services_asked(deps)
        if wanted:
            order = [w.name for w in wanted]
            facts = sorted(
                (f for f in facts if f.label in order), key=lambda f: order.index(f.label)
            )
            known = {f.label for f in facts}
            unknown = [w for w in wanted if w.name not in known]
            if not facts:
                return _missing(deps, _no_prices(deps, unknown, asked_duration, topic))
            if unknown:  # said after what is known, with the offer to ask the owner
                deps.turn_missing.append(_no_prices(deps, unknown, asked_duration, topic))
        lines = []
        for fact in facts:
            service = by_name.get(fact.label)
            minutes = service.duration_minutes if service else None
            if topic == "price" and minutes and asked_duration:
                lines.append(
                    say(
                        lang,
                        "price_duration",
                        service=fact.label,
                        price=fact.value,
                        minutes=str(minutes),
                    )
                )
            elif topic == "price":
                lines.append(say(lang, "price", service=fact.label, price=fact.value))
            elif topic == "about":
                lines.append(say(lang, "about", service=fact.label, text=fact.value))
            else:
                lines.append(say(lang, "duration", service=fact.label, minutes=fact.value))
        text = "\n".join(lines)
    elif topic == "hours":
        closed = say(lang, "closed_word")
        text = say(
            lang,
            "hours",
            tz=_tz(deps),
            hours="; ".join(f"{f.label}: {f.value or closed}" for f in facts),
        )
    elif topic == "horizon":
        values = {f.label: f.value for f in facts}
        text = say(lang, "horizon_info", days=values["days"], until=values["until"])
    elif topic == "address":
        values = {f.label: f.value for f in facts}
        parts = []
        if "address" in values:
            parts.append(say(lang, "address", address=values["address"]))
        if "map" in values:
            parts.append(say(lang, "map", url=values["map"]))
        text = " ".join(parts) if parts else ""
        if not parts:
            return _dont_know(deps)
    elif topic == "payment":
        text = say(lang, "payment", methods=format_list_of([f.value for f in facts], zone, lang))
    elif topic in ("cancellation", "lateness", "deposit"):
        text = say(lang, topic, text=facts[0].value)
    elif topic == "contact":
        text = say(
            lang, "contact", name=name, contact=format_list_of([f.value for f in facts], zone, lang)
        )
    else:  # services
        text = say(lang, "pick_service") + "\n" + numbered([f.label for f in facts])
        deps.memory.offered_services = [s.id for s in deps.services]
        deps.memory.last_list = "services"
        return _text(deps, text)
    r = deps.reading
    m = deps.memory
    several = r is not None and bool(r.service.apart or r.service.also)
    if r is not None and r.service.service is not None and not several:
        m.service_id = r.service.service.id  # "how much is X?": X is what they are after
    service_id = _service_in_talk(deps)
    if deps.turn_topics:  # the next thing asked in the same message
        deps.said.append(text)
        return _call("business_info", topic=deps.turn_topics[0])
    if deps.turn_missing:  # what was known is said; now what is not, and the offer
        deps.said.append(text)
        return _say_missing(deps)
    if r is not None and r.when.found and service_id and topic != "hours":
        # "How much is a haircut? Can I come tomorrow at 5?": the answer, then the offer.
        deps.said.append(text)
        return _find(deps, service_id, r.when.keep_from(_asked(deps)))
    if m.last_list == "slots" and m.offered_slots:
        text += "\n" + say(lang, "pick_slot_hint")  # the times offered still stand
    elif not m.live_bookings:
        key = "want_to_book_it" if _service_in_talk(deps) else "want_to_book"
        text += "\n" + say(lang, key)
    return _text(deps, text)


def _services_asked(deps: AgentDeps) -> list[Named]:
    """The services a price or duration question is about: named in it (with those it names
    apart that a joined one holds: "the haircut? and the beard?"), or the one in talk."""
    match = deps.reading.service if deps.reading else None
    if match is not None and match.service is not None:
        return [*match.apart, match.service, *match.also]
    in_talk = deps.service(deps.memory.service_id or "")
    if in_talk is not None:  # "how much?" of the service in the talk
        return [Named(in_talk.id, in_talk.name)]
    return []


def _no_prices(
    deps: AgentDeps, wanted: list[Named], asked_duration: bool, topic: str = "price"
) -> str:
    if topic == "about":
        return " ".join(say(deps.lang, "no_about", service=w.name) for w in wanted)
    return " ".join(_no_price(deps, w, asked_duration) for w in wanted)


def _no_price(deps: AgentDeps, wanted: Named, asked_duration: bool) -> str:
    """ "Beard trim: I don't have its price.", after its duration when that was asked too."""
    lead = say(deps.lang, "no_price", service=wanted.name)
    service = deps.service(wanted.id)
    if asked_duration and service is not None and service.duration_minutes:
        minutes = str(service.duration_minutes)
        lead = say(deps.lang, "duration", service=wanted.name, minutes=minutes) + " " + lead
    return lead


def _missing(deps: AgentDeps, lead: str) -> ModelResponse:
    """A fact the business has not given ("" when there is nothing specific to say of it):
    noted, and said after the rest of what the message asked is answered."""
    deps.turn_missing.append(lead)
    if deps.turn_topics:
        return _call("business_info", topic=deps.turn_topics[0])
    return _say_missing(deps)


def _say_missing(deps: AgentDeps) -> ModelResponse:
    """What this turn could not answer, with the offer to ask the owner: each thing named
    ("Cleaning: I don't have its price."), or "I don't have that information" when one of
    them has no name of its own."""
    leads = deps.turn_missing
    r, m = deps.reading, deps.memory
    named = r.service.service.id if r is not None and r.service.service is not None else None
    service_id = named or _service_in_talk(deps)
    if r is not None and r.when.found and service_id and all(leads):
        # "how much is a beard trim, and can i come today at 3?": what is missing is said and
        # the time asked is offered; a "yes" then books it (asked again, the owner is offered).
        deps.said.append(" ".join(leads))
        m.service_id = service_id
        return _find(deps, service_id, r.when.keep_from(_asked(deps)))
    return _dont_know(deps, " ".join(leads) + " " if all(leads) else "")


DOES_NOT_KNOW = "the visitor asked what the agent does not know"
RUNNING_LATE = "the visitor is running late for their booking"
COMPLAINT = "complaint: the visitor is unhappy or asks for a refund"


def _dont_know(deps: AgentDeps, lead: str = "") -> ModelResponse:
    m = deps.memory
    r = deps.reading
    if r is not None and r.service.service is not None:
        m.service_id = r.service.service.id  # unanswered, but it is what they are after
    m.unknown_questions += 1
    if m.unknown_questions >= 2:
        return _call("hand_off", reason=DOES_NOT_KNOW)
    m.owner_offered_turn = m.turn  # "Shall I ask them?": a yes next hands off
    # A lead that says what is missing ("Beard trim: I don't have its price.") needs only the
    # offer after it.
    key = "ask_owner" if lead else "dont_know"
    return _text(deps, lead + say(deps.lang, key, name=deps.workspace.name))


def _tz(deps: AgentDeps) -> str:
    from conversations.agent.replies import zone_label

    return zone_label(deps.zone, deps.lang)


def _service_line(name: str, minutes: int | None, price: str | None) -> str:
    details = [d for d in (f"{minutes} min" if minutes else None, price) if d]
    return f"{name} ({', '.join(details)})" if details else name


def _slot_lines(deps: AgentDeps) -> str:
    return numbered([format_slot(o.start, deps.zone, deps.lang) for o in deps.memory.offered_slots])


def _options_again(deps: AgentDeps) -> str:
    m = deps.memory
    missing = deps.visitor.missing(deps.required_contact) if m.pending else []
    if missing and m.pending is not None:
        # A time was accepted and waits for the visitor's details: those are asked again.
        return _details_text(deps, missing, m.pending)
    if m.last_list == "slots" and m.offered_slots:
        return say(deps.lang, "pick_slot_hint") + "\n" + _slot_lines(deps)
    names = [s.name for s in deps.services]
    return say(deps.lang, "pick_service") + "\n" + numbered(names)
