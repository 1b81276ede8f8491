"""What the built-in agent says, in six languages and four tones, and the rules every reply
obeys whoever wrote it: local times as people say them in the visitor's language (babel's
CLDR formats and zone names, "Eastern Time", "Horário de Brasília"), and per-channel caps.

The English texts below are the message ids; each other language is a gettext catalog
(`locales/<lang>.po`, read with babel at first use: no compiled files to go stale). A language
without a catalog gets the business's default language, never a third one.
"""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import (
    format_date,
    format_interval,
    format_skeleton,
    format_time,
    get_datetime_format,
    get_timezone_name,
)
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import NullTranslations, Translations

from conversations.agent.words.langs import LANGS, locale_for


def N_(text: str) -> str:
    return text


MESSAGES: dict[str, str] = {
    "pick_service": N_("Which service would you like? Reply with the number or the name:"),
    "which_service": N_("Which of these do you mean? Reply with the number or the name:"),
    "pick_slot": N_("Free times for {service} ({tz}):"),
    "pick_slot_window": N_("Free times for {service} {when} ({tz}):"),
    "pick_slot_hint": N_("Reply with the number, or tell me another day or time."),
    "full": N_("Sorry, {days} is fully booked for {service}. The nearest free times ({tz}):"),
    "none_left_today": N_(
        "There's no time left today for {service}. The nearest free times ({tz}):"
    ),
    "full_window": N_(
        "Sorry, nothing is free for {service} {when} on {days}. The nearest free times ({tz}):"
    ),
    "closed": N_("We're closed on {day}. The nearest free times ({tz}):"),
    "closed_then": N_("We're closed on {day}."),
    "closed_hour": N_("We're closed at {time}. The nearest free times ({tz}):"),
    "closed_window": N_("We're closed {when} on {days}. The nearest free times ({tz}):"),
    "not_free_at": N_("{time} is not free for {service}. The nearest free times ({tz}):"),
    "past": N_("{day} has already passed. The nearest free times ({tz}):"),
    "horizon": N_(
        "{day} is too far ahead: I can book up to {days} days ahead, until {until}. "
        "The nearest free times ({tz}):"
    ),
    "none": N_("Sorry, I found no free time for {service} in the next weeks."),
    "exact": N_("{slot} is free for {service}. Shall I book it? Reply yes, or pick another:"),
    "exact_only": N_("{slot} is free for {service}. Shall I book it?"),
    "exact_move": N_(
        "{slot} is free. Shall I move your {service} there? Reply yes, or pick another:"
    ),
    "booked": N_("Done! ✅ You're booked for {service} on {slot} ({tz})."),
    "moved": N_("Done! ✅ Your {service} is moved to {slot} ({tz})."),
    "taken": N_("Sorry, {slot} was just taken. Other free times for {service}:"),
    "cancelled": N_("Your {service} on {slot} is cancelled."),
    "cancel_ask": N_("Shall I cancel your {service} on {slot}? Reply yes to cancel it."),
    "booked_for": N_("I've noted it is {who}."),
    "cant_make_it": N_(
        "No problem. Shall I cancel your {service} on {slot}? Reply yes to cancel it, or tell "
        "me another day or time to move it."
    ),
    "cancel_kept": N_("All right, your {service} on {slot} stays booked."),
    "reminder_no": N_(
        "All right, nothing is changed: your {service} on {slot} is still booked. To cancel "
        "it, write cancel; to move it, tell me another day or time."
    ),
    "dropped": N_("No problem! If you need anything, just write here. 😊"),
    "wrong_number": N_(
        "No problem, sorry for the bother! I haven't made or changed any appointment."
    ),
    "wrong_number_told": N_(
        "No problem, sorry for the bother! I haven't changed anything; I'll let {name} know "
        "this number may be on a booking by mistake."
    ),
    "noted_when": N_("Noted: {when}."),
    "contact_unreadable": N_(
        "I can't use {typed} as a phone number or an e-mail address: please check it (a phone "
        "from another country needs its country code, like +44)."
    ),
    "details_why": N_(
        "They are only for this booking: to hold it in your name and to reach you if anything "
        "changes."
    ),
    "stopped": N_(
        "Understood: {name} won't send you reminders here any more. Your bookings stay as they "
        "are; write any time if you need us."
    ),
    "who_we_are": N_("This is {name}'s booking assistant."),
    "small_talk": N_("I'm well, thanks for asking! How can I help you?"),
    "email_meant": N_("Did you mean {meant}? Reply yes, or no if {typed} is right."),
    "one_visit_at_a_time": N_(
        "I book one visit at a time: let's start with the first, then ask me for the next one."
    ),
    "glad_you_liked": N_("Thank you, that's lovely to hear! Anything else I can do for you?"),
    "sorry_to_hear": N_("I'm sorry to hear that."),
    "late_told": N_("Thanks for letting us know! I've told {name} you're on your way."),
    "no_booking": N_("I don't see a booking of yours in this conversation."),
    "code_ask_email": N_(
        "To find your booking, tell me the e-mail address you booked with and I'll send "
        "you a code there."
    ),
    "code_sent": N_(
        "If that address is on a booking here, a code is on its way to it. Type the code "
        "here when it arrives."
    ),
    "code_cannot_send": N_(
        "I can only send codes by e-mail. Which e-mail address did you book with?"
    ),
    "code_too_many": N_("Too many codes have been asked for. Please try again in an hour."),
    "code_wrong": N_("That code isn't right. Please check it and type it again."),
    "code_again": N_(
        "That code can't be used any more. Tell me your e-mail again and I'll send a new one."
    ),
    "code_verified": N_("Thanks, that's confirmed."),
    "no_upcoming": N_("I don't see an upcoming booking of yours."),
    "verify_first": N_(
        "Before I book {slot}, I need to confirm who you are: tell me your e-mail address "
        "and I'll send you a code."
    ),
    "address_limit": N_("I can't take more bookings from this connection today."),
    "your_bookings": N_("Your upcoming bookings:"),
    "one_at_a_time": N_(
        "I book one service at a time: let's start with {service}, then ask me for {others}."
    ),
    "which_booking": N_("Which booking? Reply with the number:"),
    "which_new": N_("Sure, let's move it. Free times for {service} ({tz}):"),
    "not_understood": N_("Sorry, I didn't get that."),
    "not_on_list": N_("That option isn't on the list; here it is again:"),
    "none_suit": N_("No problem. Which other day or time would suit you?"),
    "horizon_info": N_("You can book up to {days} days ahead, until {until}."),
    "handoff": N_(
        "I'm passing you to a person from {name}; they will answer here as soon as they can."
    ),
    "trouble": N_(
        "Sorry, I can't check the calendar right now. "
        "A person from {name} will answer you here shortly."
    ),
    "no_connector": N_(
        "Online booking isn't available right now. "
        "A person from {name} will answer you here shortly."
    ),
    "too_hard": N_(
        "Sorry, I couldn't read that message. A person from {name} will answer you here shortly."
    ),
    "scope": N_(
        "I can only help with appointments at {name}: services, free times, booking, "
        "moving or cancelling your own booking."
    ),
    "thanks": N_("You're welcome! Anything else I can do for you?"),
    "see_you": N_("See you then! If you need to change anything, just write here."),
    "anything_else": N_("Anything else I can help you with?"),
    "ask_which": N_("Which one? Reply with its number."),
    "no_more": N_("No problem. Pick another time from the list, or tell me a day:"),
    "want_to_book": N_("Would you like to book? Tell me the service, and a day or time."),
    "want_to_book_it": N_("Would you like to book it? Tell me a day or time."),
    "dont_know": N_("I don't have that information. Shall I ask {name} to answer you here?"),
    "ask_owner": N_("Shall I ask {name} to answer you here?"),
    "price": N_("{service}: {price}."),
    "free_of_charge": N_("free"),
    "price_duration": N_("{service}: {price}, {minutes} minutes."),
    "duration": N_("{service} takes {minutes} minutes."),
    "no_price": N_("{service}: I don't have its price."),
    "about": N_("{service}: {text}"),
    "no_about": N_("{service}: I don't have more details about it."),
    "hours": N_("Opening hours ({tz}): {hours}."),
    "hours_unknown": N_(
        "The opening hours depend on the calendar: tell me a day and I'll show you the free times."
    ),
    "closed_word": N_("closed"),
    "address": N_("We're at {address}."),
    "map": N_("Map: {url}"),
    "payment": N_("We accept {methods}."),
    "cancellation": N_("Cancellation policy: {text}"),
    "lateness": N_("If you're running late: {text}"),
    "deposit": N_("Deposit: {text}"),
    "contact": N_("You can reach {name} at {contact}."),
    "noted": N_("Thank you, I'll use these details for your booking."),
    "need_details": N_("To book {slot}, please send me {what}."),
    "your_name": N_("your name"),
    "phone_or_email": N_("a phone number or an e-mail"),
    "a_phone": N_("a phone number"),
    "an_email": N_("an e-mail"),
    "confirmed_visit": N_("Thanks for confirming! See you on {slot} for your {service}."),
    "limit": N_("You already have {n} upcoming bookings with us, the most I can book here."),
    "morning": N_("in the morning"),
    "midday": N_("around midday"),
    "afternoon": N_("in the afternoon"),
    "evening": N_("in the evening"),
    "after": N_("after {time}"),
    "before": N_("before {time}"),
    "between": N_("between {start} and {end}"),
}

GREETINGS: dict[str, str] = {
    "friendly": N_("Hi there! 👋 Welcome to {name}."),
    "professional": N_("Hello, and thank you for contacting {name}."),
    "casual": N_("Hey! This is {name}."),
    "formal": N_("Good day. You have reached {name}."),
}

_LOCALES_DIR = Path(__file__).parent / "locales"


@cache
def _catalog(lang: str) -> NullTranslations:
    path = _LOCALES_DIR / f"{lang}.po"
    if lang == "en" or not path.exists():
        return NullTranslations()
    with path.open("rb") as f:
        catalog = read_po(f, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


def _(lang: str, text: str, context: str | None = None) -> str:
    catalog = _catalog(lang if lang in LANGS else "en")
    return catalog.pgettext(context, text) if context else catalog.gettext(text)


def say(lang: str, key: str, tone: str = "friendly", **values: str) -> str:
    text = _(lang, MESSAGES[key]).format(**values)
    if key in ("booked", "moved", "thanks", "see_you", "confirmed_visit", "glad_you_liked"):
        text += {"friendly": " 😊", "casual": " 🙌"}.get(tone, "")
    if tone in ("formal", "professional"):
        text = text.replace("✅ ", "").replace("👋 ", "")
    return text


def greeting(lang: str, tone: str, name: str, custom: str | None = None) -> str:
    if custom:
        return custom.replace("{name}", name)
    text = GREETINGS.get(tone, GREETINGS["friendly"])
    return _(lang, text, context=f"greeting-{tone}").format(name=name)


def numbered(lines: list[str]) -> str:
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))


# -- formats -----------------------------------------------------------------------------


def _plain(text: str) -> str:
    # CLDR puts narrow and non-breaking spaces in times and numbers; SMS's GSM-7 has neither.
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def _locale(lang: str, zone: ZoneInfo) -> Locale:
    return locale_for(lang, zone.key)


def format_slot(start: datetime, zone: ZoneInfo, lang: str = "en") -> str:
    """ "Monday, 7 December 2026, 09:00" in the workspace's zone, in the visitor's locale."""
    local = start.astimezone(zone)
    locale = _locale(lang, zone)
    day = format_date(local.date(), "full", locale=locale)
    clock = format_time(local, "short", locale=locale)
    return _plain(get_datetime_format("medium", locale=locale).format(clock, day))


def format_day(day: date, zone: ZoneInfo, lang: str = "en") -> str:
    return _plain(format_date(day, "full", locale=_locale(lang, zone)))


def format_days(first: date, last: date, zone: ZoneInfo, lang: str = "en") -> str:
    """A span of days as people say it: "March 2027" for a whole month, "7-13 Dec
    2026" for others (babel's interval formats), one day as `format_day`."""
    locale = _locale(lang, zone)
    if first == last:
        return format_day(first, zone, lang)
    month_end = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    if first.day == 1 and last == month_end:
        return _plain(format_skeleton("yMMMM", first, locale=locale))
    return _plain(format_interval(first, last, "yMMMMd", locale=locale))


def format_clock(clock: time, zone: ZoneInfo, lang: str = "en") -> str:
    if clock == time.max:
        clock = time(0)
    return _plain(format_time(clock, "short", locale=_locale(lang, zone)))


def zone_label(zone: ZoneInfo, lang: str = "en") -> str:
    """The zone as people say it ("Eastern Time", "hora de Europa central")."""
    return _plain(get_timezone_name(zone, "long", locale=_locale(lang, zone)))


def format_price(price: Decimal, currency: str, zone: ZoneInfo, lang: str = "en") -> str:
    if price == 0:  # "Discovery call: free.", not "$0"
        return say(lang, "free_of_charge")
    locale = _locale(lang, zone)
    if price == price.to_integral_value():
        pattern = locale.currency_formats["standard"].pattern.replace(".00", "")
        text = format_currency(
            price, currency, format=pattern, currency_digits=False, locale=locale
        )
    else:
        text = format_currency(price, currency, locale=locale)
    return _plain(text)


def format_list_of(items: list[str], zone: ZoneInfo, lang: str = "en") -> str:
    return format_list(items, locale=_locale(lang, zone)) if items else ""


def window_label(window: tuple[time, time], zone: ZoneInfo, lang: str) -> str:
    from conversations.agent.words.when import AFTERNOON, EVENING, MIDDAY, MORNING

    names = {MORNING: "morning", MIDDAY: "midday", AFTERNOON: "afternoon", EVENING: "evening"}
    if window in names:
        return _(lang, MESSAGES[names[window]])
    start, end = window
    if end == time.max:
        return _(lang, MESSAGES["after"]).format(time=format_clock(start, zone, lang))
    if start == time(0):
        return _(lang, MESSAGES["before"]).format(time=format_clock(end, zone, lang))
    return _(lang, MESSAGES["between"]).format(
        start=format_clock(start, zone, lang), end=format_clock(end, zone, lang)
    )


def weekday_name(weekday: int, zone: ZoneInfo, lang: str) -> str:
    return str(_locale(lang, zone).days["format"]["wide"][weekday])


# Characters per message a channel takes (provider limits, SMS kept to two segments).
CHANNEL_LIMITS = {
    "sms": 320,
    "whatsapp": 1600,
    "instagram": 1000,
    "messenger": 2000,
    "phone": 600,
    "chatgpt": 4000,
    "web": 4000,
}


def cap(text: str, channel: str) -> str:
    """Cut at the channel's limit on a line or word boundary, marking the cut."""
    limit = CHANNEL_LIMITS.get(channel, 1000)
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    boundary = max(cut.rfind("\n"), cut.rfind(" "))
    return (cut[:boundary] if boundary > limit // 2 else cut).rstrip() + "…"
