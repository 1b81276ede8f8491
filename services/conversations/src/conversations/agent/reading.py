"""One visitor message, read once per turn: language, intent, when, service, choice.

Pure and synchronous; `core` runs it off the event loop with a time budget, so no visitor
text can hold up other conversations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from conversations.agent.words.intents import Intent, choice_number, read_intent
from conversations.agent.words.langs import detect_language, locale_for, month_first
from conversations.agent.words.services import Named, ServiceMatch, match_service
from conversations.agent.words.text import bound
from conversations.agent.words.when import When, read_when


@dataclass(frozen=True, slots=True)
class Reading:
    text: str  # bounded
    lang: str
    intent: Intent
    when: When
    service: ServiceMatch
    choice_of_3: int | None  # the option picked if three were shown ("the second one")

    def choice(self, options: int) -> int | None:
        return choice_number(self.text, options)


def read_message(
    text: str,
    *,
    today: date,
    timezone: str,
    previous_lang: str | None,
    default_lang: str,
    services: list[Named],
) -> Reading:
    short = bound(text)
    lang = detect_language(short, previous_lang, default_lang)
    return Reading(
        text=short,
        lang=lang,
        intent=read_intent(short),
        when=read_when(short, today, lang, month_first=month_first(locale_for(lang, timezone))),
        service=match_service(short, services),
        choice_of_3=choice_number(short, 3),
    )
