"""Reminders, confirmations and cancellation notices after a booking: when each one is due,
whether it may go now, and what it says. Pure rules: no clock of their own, no I/O.

Times are computed on instants (UTC), never on wall clocks, so "24 h before" is 24 real hours
across a daylight-saving change; only quiet hours are wall-clock times, read in the
workspace's timezone.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

from shared.events.connectors import MOVED

Kind = Literal["reminder", "confirmation", "cancellation"]
JobStatus = Literal["scheduled", "sent", "failed", "skipped", "cancelled"]

LANGS: tuple[str, ...] = ("en", "es", "pt", "fr", "de", "it")
PLACEHOLDERS: tuple[str, ...] = ("name", "service", "time", "business")
DEFAULT_OFFSETS: tuple[int, ...] = (1440, 120)
MAX_OFFSETS = 3
MAX_OFFSET_MINUTES = 30 * 24 * 60
MAX_TEXT = 1000

# A booking cancelled with reason MOVED (the agent's move, a provider's reschedule) is counted
# as moved, not cancelled.
# Cancellation reasons the agent gives: the visitor cancelled (or moved) in the conversation,
# where the agent's reply says so; no separate notice goes.
VISITOR = "visitor"
VISITOR_REASONS: tuple[str, ...] = (VISITOR, MOVED)

STARTED = "appointment already started"
QUIET_UNTIL_START = "quiet hours last until the appointment"
SAME_TIME = "another reminder goes at the same time"
ASKED_TO_STOP = "the visitor asked for no more messages in this chat"
NOT_THEIR_NUMBER = "the visitor said this number is not theirs; the owner checks the contact"
# The handoff that goes with it.
WRONG_NUMBER = "wrong number: a reminder reached someone who did not book; check the contact"
TOLD_AT_BOOKING = "booked inside the reminder's window: the visitor was told at booking"


class InvalidReminderSettings(ValueError):
    """Settings an owner sent that cannot work; the message says which and why."""


@dataclass(frozen=True, slots=True)
class QuietHours:
    """No message between `start` and `end`, wall clock in the workspace's timezone; a range
    whose start is after its end spans midnight (21:00-08:00)."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def end_after(self, moment: datetime, zone: tzinfo) -> datetime:
        """The first instant after `moment` at which quiet hours end."""
        day = moment.astimezone(zone).date()
        for offset in (0, 1, 2):
            candidate = _wall(day + timedelta(days=offset), self.end, zone)
            if candidate > moment:
                return candidate
        raise AssertionError("an end of quiet hours within two days")  # pragma: no cover


def _wall(day: date, clock: time, zone: tzinfo) -> datetime:
    """A wall-clock time as an instant. In a spring-forward gap (no such wall time) the
    offset before the change applies (PEP 495, fold=0): 02:30 becomes 03:30 after it."""
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class PlannedJob:
    kind: Kind
    offset_minutes: int
    due_at: datetime
    status: Literal["scheduled", "skipped"]
    reason: str | None = None


def fit_quiet_hours(
    due: datetime, start: datetime, quiet: QuietHours | None, zone: tzinfo
) -> tuple[datetime | None, str | None]:
    """`due` moved out of quiet hours: (new due, None), or (None, reason) when quiet hours
    last until the appointment."""
    if quiet is None or not quiet.contains(due.astimezone(zone).time()):
        return due, None
    moved = quiet.end_after(due, zone)
    if moved >= start:
        return None, QUIET_UNTIL_START
    return moved, None


def plan_reminders(
    start: datetime,
    now: datetime,
    offsets: list[int] | tuple[int, ...],
    quiet: QuietHours | None,
    zone: tzinfo,
    *,
    told_now: bool = False,
) -> list[PlannedJob]:
    """One job per offset, due `offset` minutes before `start` (on instants).

    A due time already past is now, as long as the appointment has not started, unless the
    visitor is told of the booking now (`told_now`: the agent's answer or a confirmation):
    a reminder right after that says nothing new, so it is skipped. A due time in quiet hours
    moves to their end, or the job is skipped when that is too late. Two jobs that would go
    at the same instant (both late, both moved to the end of the night) send once: the one
    closest to the appointment.
    """
    start = start.astimezone(UTC)
    now = now.astimezone(UTC)
    jobs: list[PlannedJob] = []
    for offset in sorted(set(offsets), reverse=True):
        if start <= now:
            jobs.append(PlannedJob("reminder", offset, now, "skipped", STARTED))
            continue
        due = start - timedelta(minutes=offset)
        if due <= now and told_now:
            jobs.append(PlannedJob("reminder", offset, now, "skipped", TOLD_AT_BOOKING))
            continue
        due = max(due, now)
        fitted, reason = fit_quiet_hours(due, start, quiet, zone)
        if fitted is None:
            jobs.append(PlannedJob("reminder", offset, due, "skipped", reason))
        else:
            jobs.append(PlannedJob("reminder", offset, fitted, "scheduled"))
    # Largest offset first: a later job at the same instant is closer to the appointment.
    for index, job in enumerate(jobs):
        if job.status == "scheduled" and any(
            later.status == "scheduled" and later.due_at == job.due_at
            for later in jobs[index + 1 :]
        ):
            jobs[index] = PlannedJob(job.kind, job.offset_minutes, job.due_at, "skipped", SAME_TIME)
    return jobs


def plan_confirmation(
    start: datetime, now: datetime, quiet: QuietHours | None, zone: tzinfo
) -> PlannedJob:
    """A confirmation goes now (or at the end of quiet hours), if the appointment is ahead."""
    if start <= now:
        return PlannedJob("confirmation", 0, now, "skipped", STARTED)
    fitted, reason = fit_quiet_hours(now.astimezone(UTC), start.astimezone(UTC), quiet, zone)
    if fitted is None:
        return PlannedJob("confirmation", 0, now, "skipped", reason)
    return PlannedJob("confirmation", 0, fitted, "scheduled")


def plan_cancellation(
    start: datetime, now: datetime, quiet: QuietHours | None, zone: tzinfo
) -> PlannedJob:
    """A booking cancelled by the owner or the provider is told to the visitor now, or at the
    end of quiet hours; if those last until the appointment, now all the same (better a
    message at night than a visitor at a closed door)."""
    if start <= now:
        return PlannedJob("cancellation", 0, now, "skipped", STARTED)
    fitted, _ = fit_quiet_hours(now.astimezone(UTC), start.astimezone(UTC), quiet, zone)
    return PlannedJob("cancellation", 0, fitted or now, "scheduled")


@dataclass(frozen=True, slots=True)
class SendNow:
    pass


@dataclass(frozen=True, slots=True)
class Defer:
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str


def decide_at_send(
    now: datetime, start: datetime, quiet: QuietHours | None, zone: tzinfo, kind: Kind = "reminder"
) -> SendNow | Defer | Skip:
    """A due job, when the scheduler reaches it (on time or catching up after an outage):
    sent if the appointment is still ahead, held until quiet hours end, or skipped (a
    cancellation goes even when quiet hours last until the appointment)."""
    if start <= now:
        return Skip(STARTED)
    fitted, reason = fit_quiet_hours(now, start, quiet, zone)
    if fitted is None:
        if kind == "cancellation":
            return SendNow()
        assert reason is not None
        return Skip(reason)
    return SendNow() if fitted == now else Defer(fitted)


# -- settings -------------------------------------------------------------------------------

_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_clock(value: str, field: str) -> time:
    match = _CLOCK.match(value)
    if match is None:
        raise InvalidReminderSettings(f"quiet_hours.{field} must be a time as HH:MM, e.g. 21:00")
    return time(int(match[1]), int(match[2]))


def check_offsets(offsets: list[int]) -> list[int]:
    if not 1 <= len(offsets) <= MAX_OFFSETS:
        raise InvalidReminderSettings(f"offsets_minutes takes 1 to {MAX_OFFSETS} values")
    for offset in offsets:
        if not 1 <= offset <= MAX_OFFSET_MINUTES:
            raise InvalidReminderSettings(
                f"each offset is 1 to {MAX_OFFSET_MINUTES} minutes (30 days); got {offset}"
            )
    if len(set(offsets)) != len(offsets):
        raise InvalidReminderSettings("offsets_minutes has the same offset twice")
    return sorted(offsets, reverse=True)


def check_quiet_hours(start: str, end: str) -> QuietHours:
    quiet = QuietHours(parse_clock(start, "start"), parse_clock(end, "end"))
    if quiet.start == quiet.end:
        raise InvalidReminderSettings("quiet_hours start and end must differ (null turns them off)")
    return quiet


def check_text(lang: str, text: str) -> str:
    """An owner's text: one of the six languages, known placeholders only, no formatting."""
    if lang not in LANGS:
        raise InvalidReminderSettings(
            f"texts: unknown language {lang!r}; use one of {', '.join(LANGS)}"
        )
    text = text.strip()
    if not text:
        raise InvalidReminderSettings(f"texts.{lang} is empty")
    if len(text) > MAX_TEXT:
        raise InvalidReminderSettings(f"texts.{lang} is longer than {MAX_TEXT} characters")
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        raise InvalidReminderSettings(
            f"texts.{lang}: a brace is not closed; write placeholders as {{name}}, and a "
            "literal brace as {{ or }}"
        ) from None
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            shown = (
                "{"
                + name
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
            raise InvalidReminderSettings(
                f"texts.{lang}: unknown placeholder {shown}; use "
                + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            )
    return text


# -- what it says ---------------------------------------------------------------------------

REMINDER_TEXTS: dict[str, str] = {
    "en": "Hi {name}, this is a reminder of your {service} on {time} at {business}.",
    "es": "Hola {name}, te recordamos tu cita de {service} el {time} en {business}.",
    "pt": "Olá {name}, lembramos o seu {service} em {time} na {business}.",
    "fr": "Bonjour {name}, nous vous rappelons votre {service} le {time} chez {business}.",
    "de": "Hallo {name}, wir erinnern an Ihren Termin {service} am {time} bei {business}.",
    "it": "Ciao {name}, ti ricordiamo il tuo appuntamento {service} il {time} da {business}.",
}
CONFIRMATION_TEXTS: dict[str, str] = {
    "en": "Hi {name}, your {service} on {time} at {business} is booked.",
    "es": "Hola {name}, tu cita de {service} el {time} en {business} está reservada.",
    "pt": "Olá {name}, o seu {service} em {time} na {business} está marcado.",
    "fr": "Bonjour {name}, votre {service} le {time} chez {business} est réservé.",
    "de": "Hallo {name}, Ihr Termin {service} am {time} bei {business} ist gebucht.",
    "it": "Ciao {name}, il tuo appuntamento {service} il {time} da {business} è prenotato.",
}
CANCELLATION_TEXTS: dict[str, str] = {
    "en": "Hi {name}, your {service} on {time} at {business} has been cancelled.",
    "es": "Hola {name}, tu cita de {service} el {time} en {business} ha sido cancelada.",
    "pt": "Olá {name}, o seu {service} em {time} na {business} foi cancelado.",
    "fr": "Bonjour {name}, votre {service} le {time} chez {business} a été annulé.",
    "de": "Hallo {name}, Ihr Termin {service} am {time} bei {business} wurde abgesagt.",
    "it": "Ciao {name}, il tuo appuntamento {service} il {time} da {business} è stato annullato.",
}
# SMS: a one-letter answer (and never the word CANCEL, which Twilio reads as an opt-out).
SMS_HINTS: dict[str, str] = {
    "en": "Reply C to confirm, X to cancel.",
    "es": "Responde C para confirmar, X para cancelar.",
    "pt": "Responda C para confirmar, X para cancelar.",
    "fr": "Répondez C pour confirmer, X pour annuler.",
    "de": "Antworten Sie C zum Bestätigen, X zum Absagen.",
    "it": "Rispondi C per confermare, X per annullare.",
}
CHAT_HINTS: dict[str, str] = {
    "en": "Reply 'confirm', 'cancel' or 'change'.",
    "es": "Responde 'confirmar', 'cancelar' o 'cambiar'.",
    "pt": "Responda 'confirmar', 'cancelar' ou 'mudar'.",
    "fr": "Répondez 'confirmer', 'annuler' ou 'changer'.",
    "de": "Antworten Sie 'bestätigen', 'absagen' oder 'ändern'.",
    "it": "Rispondi 'confermo', 'annulla' o 'cambia'.",
}
SUBJECTS: dict[str, dict[str, str]] = {
    "reminder": {
        "en": "Reminder: {service} on {time}",
        "es": "Recordatorio: {service} el {time}",
        "pt": "Lembrete: {service} em {time}",
        "fr": "Rappel : {service} le {time}",
        "de": "Erinnerung: {service} am {time}",
        "it": "Promemoria: {service} il {time}",
    },
    "confirmation": {
        "en": "Booked: {service} on {time}",
        "es": "Reservado: {service} el {time}",
        "pt": "Marcado: {service} em {time}",
        "fr": "Réservé : {service} le {time}",
        "de": "Gebucht: {service} am {time}",
        "it": "Prenotato: {service} il {time}",
    },
    "cancellation": {
        "en": "Cancelled: {service} on {time}",
        "es": "Cancelada: {service} el {time}",
        "pt": "Cancelado: {service} em {time}",
        "fr": "Annulé : {service} le {time}",
        "de": "Abgesagt: {service} am {time}",
        "it": "Annullato: {service} il {time}",
    },
}
SERVICE_FALLBACK: dict[str, str] = {
    "en": "appointment",
    "es": "cita",
    "pt": "marcação",
    "fr": "rendez-vous",
    "de": "Termin",
    "it": "appuntamento",
}


@dataclass(frozen=True, slots=True)
class Facts:
    """What a message is filled with: the values of the four placeholders."""

    name: str | None
    service: str | None
    time: str
    business: str


def language(lang: str | None) -> str:
    return lang if lang in LANGS else "en"


def render(template: str, facts: Facts, lang: str) -> str:
    """The text with its placeholders filled; a missing name leaves no stray comma."""
    values = {
        "name": facts.name or "",
        "service": facts.service or SERVICE_FALLBACK[language(lang)],
        "time": facts.time,
        "business": facts.business,
    }
    text = template.format(**values)
    text = re.sub(r"[ \t]+([,.!?])", r"\1", text)  # "Hi , ..." -> "Hi, ..."
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def compose(
    kind: Kind, lang: str | None, facts: Facts, owner_texts: dict[str, str], channel: str
) -> str:
    """The message a visitor gets: the owner's text in the visitor's language (or ours), and
    for a reminder how to answer it on that channel."""
    lang = language(lang)
    if kind == "confirmation":
        return render(CONFIRMATION_TEXTS[lang], facts, lang)
    if kind == "cancellation":
        return render(CANCELLATION_TEXTS[lang], facts, lang)
    template = owner_texts.get(lang) or REMINDER_TEXTS[lang]
    text = render(template, facts, lang)
    hint = SMS_HINTS[lang] if channel == "sms" else CHAT_HINTS[lang]
    return f"{text}\n{hint}" if channel != "email" else text


def subject(kind: Kind, lang: str | None, facts: Facts) -> str:
    lang = language(lang)
    return render(SUBJECTS[kind][lang], facts, lang)


def answer_payloads(booking_id: str) -> list[str]:
    """WhatsApp quick-reply button payloads, in the template's button order."""
    return [f"reminder:{what}:{booking_id}" for what in ("confirm", "cancel", "change")]
