"""Reminders after a booking: the owner's settings, the bookings conversations hears of,
planning their jobs, and writing one due job as a message on the way back.

Every write happens in the caller's transaction: the consumer's (planning with the inbox
claim) or the scheduler's (the claim, the message, its outbox event and the job's new state
commit together, so a reminder is written exactly once).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime

from conversations.db.models import Conversation, Workspace, WorkspaceService
from conversations.db.uow import ConversationsUnitOfWork
from conversations.domain import contacts as contact_rules
from conversations.domain.contacts import InvalidContactDetail
from conversations.domain.delivery import ReplyWindowClosed, reply_policy
from conversations.domain.reminders import (
    MOVED,
    SERVICE_FALLBACK,
    VISITOR_REASONS,
    Defer,
    Facts,
    InvalidReminderSettings,
    Kind,
    QuietHours,
    Skip,
    answer_payloads,
    check_offsets,
    check_quiet_hours,
    check_text,
    compose,
    decide_at_send,
    language,
    plan_cancellation,
    plan_confirmation,
    plan_reminders,
    subject,
)
from conversations.reminders.models import ReminderBooking, ReminderJob, ReminderSettings
from conversations.reminders.repository import JobFilter, ReminderRepository
from conversations.usecases.access import owner_workspace
from conversations.usecases.messages import store_reply
from shared.events import (
    BookingCancelledV1,
    BookingCreatedV1,
    BookingMarkedV1,
    Envelope,
    NotificationEmailRequestedV1,
)
from shared.tokens import Principal

log = logging.getLogger(__name__)

NO_TEMPLATE = "WhatsApp needs an approved template outside the 24 h window"
WEB_UNREACHABLE = "web chat visitor has no reachable channel"
NO_CONVERSATION = "no conversation or e-mail to reach the visitor"
OPTED_OUT = "the visitor opted out of SMS (STOP)"
AGENT_CONFIRMED = "the agent confirmed it in the conversation"
CANCELLED = "booking cancelled"
REBOOKED = "booking no longer cancelled"
NO_CANCELLATION_TEMPLATE = (
    "WhatsApp needs an approved template outside the 24 h window, and the reminder template "
    "does not say the booking is cancelled"
)
REPLANNED = "booking moved or reminder settings changed"
TURNED_OFF = "reminders are turned off"
WORKSPACE_GONE = "workspace deleted"
TEMPLATE_NAME_FALLBACK = "\U0001f44b"  # Meta refuses an empty parameter


# -- settings -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReminderSettingsView:
    enabled: bool
    offsets_minutes: list[int]
    quiet_hours: dict[str, str] | None
    texts: dict[str, str]
    whatsapp_template: dict[str, str] | None


def _view(row: ReminderSettings) -> ReminderSettingsView:
    quiet = None
    if row.quiet_start is not None and row.quiet_end is not None:
        quiet = {"start": row.quiet_start.strftime("%H:%M"), "end": row.quiet_end.strftime("%H:%M")}
    return ReminderSettingsView(
        enabled=row.enabled,
        offsets_minutes=list(row.offsets_minutes),
        quiet_hours=quiet,
        texts=dict(row.texts or {}),
        whatsapp_template=row.whatsapp_template,
    )


def _quiet(row: ReminderSettings) -> QuietHours | None:
    if row.quiet_start is None or row.quiet_end is None:
        return None
    return QuietHours(row.quiet_start, row.quiet_end)


async def read_reminder_settings(
    uow: ConversationsUnitOfWork, principal: Principal
) -> ReminderSettingsView:
    async with uow:
        workspace = await owner_workspace(uow, principal)
        return _view(await ReminderRepository(uow.session).settings(workspace.id))


async def change_reminder_settings(
    uow: ConversationsUnitOfWork, principal: Principal, changes: dict[str, Any]
) -> ReminderSettingsView:
    """Partial update, checked whole (InvalidReminderSettings). Jobs already planned keep
    their times; bookings made from now on are planned with the new settings."""
    values: dict[str, Any] = {}
    if "enabled" in changes:
        if changes["enabled"] is None:
            raise InvalidReminderSettings("enabled must be true or false")
        values["enabled"] = bool(changes["enabled"])
    if "offsets_minutes" in changes:
        if changes["offsets_minutes"] is None:
            raise InvalidReminderSettings("offsets_minutes needs 1 to 3 values")
        values["offsets_minutes"] = check_offsets(list(changes["offsets_minutes"]))
    if "quiet_hours" in changes:
        quiet = changes["quiet_hours"]
        if quiet is None:
            values |= {"quiet_start": None, "quiet_end": None}
        else:
            hours = check_quiet_hours(quiet["start"], quiet["end"])
            values |= {"quiet_start": hours.start, "quiet_end": hours.end}
    if "texts" in changes:
        texts = changes["texts"] or {}
        values["texts"] = {lang: check_text(lang, text) for lang, text in texts.items()}
    if "whatsapp_template" in changes:
        values["whatsapp_template"] = changes["whatsapp_template"]
    async with uow:
        workspace = await owner_workspace(uow, principal)
        repo = ReminderRepository(uow.session)
        if values:
            await repo.save_settings(workspace.id, values)
        view = _view(await repo.settings(workspace.id))
        await uow.commit()
        return view


async def list_reminders(
    uow: ConversationsUnitOfWork, principal: Principal, where: JobFilter, skip: int, limit: int
) -> tuple[list[ReminderJob], int]:
    async with uow:
        workspace = await owner_workspace(uow, principal)
        return await ReminderRepository(uow.session).page(workspace.id, where, skip, limit)


# -- bookings and planning ------------------------------------------------------------------


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


async def _service_name(uow: ConversationsUnitOfWork, event: BookingCreatedV1) -> str | None:
    """The built-in calendar names services by their id: read the name from the projection.
    Other providers send a name, or a URI that says nothing to a visitor."""
    value = (event.event_type or "").strip()
    if not value:
        return None
    try:
        service_id = uuid.UUID(value)
    except ValueError:
        return None if "://" in value else value[:200]
    row = await uow.session.get(WorkspaceService, service_id)
    return row.name if row is not None and row.workspace_id == event.workspace_id else None


def booked_by_agent(event: BookingCreatedV1) -> bool:
    """The agent books through the platform API inside a conversation; it already told the
    visitor. An owner's API booking, or one a provider reports, carries no conversation."""
    return event.source == "platform" and event.conversation_id is not None


async def project_booking_created(uow: ConversationsUnitOfWork, envelope: Envelope) -> None:
    """Keep the booking and plan its jobs in the consumer's transaction. A booking seen again
    with another start is planned afresh; the same start changes no job."""
    event = envelope.parsed()
    assert isinstance(event, BookingCreatedV1)
    repo = ReminderRepository(uow.session)
    await repo.lock_booking_key(event.workspace_id, event.booking_id)
    row = await repo.booking(event.workspace_id, event.booking_id, lock=True)
    if row is not None and row.source_updated_at > envelope.occurred_at:
        return  # older news than what is kept (e.g. its cancellation came first)
    previous_start = row.start_at if row is not None and row.status == "confirmed" else None
    first = row is None or row.status != "confirmed"
    moved = previous_start is not None and previous_start != event.start
    # Before its jobs are planned afresh: had a reminder of the old time gone?
    if moved and await repo.reminded(event.workspace_id, event.booking_id):
        assert row is not None
        row.moved_after_reminder_at = envelope.occurred_at
    if row is None:
        row = ReminderBooking(workspace_id=event.workspace_id, booking_id=event.booking_id)
        repo.add_booking(row)
    row.status = "confirmed"
    row.source = event.source
    row.conversation_id = event.conversation_id or row.conversation_id
    row.contact_id = event.contact_id or row.contact_id
    if row.conversation_id is None and event.visitor_phone:
        # Booked outside the platform (a provider's page) for a number that chats with us.
        chat = await _chat_of_phone(uow, repo, event.workspace_id, event.visitor_phone)
        if chat is not None:
            row.conversation_id, row.contact_id = chat[0], row.contact_id or chat[1]
    row.service = await _service_name(uow, event) or row.service
    row.start_at = event.start
    name = event.visitor_name or row.visitor_name
    row.visitor_name = name[:200] if name else None
    row.visitor_email = event.visitor_email or row.visitor_email
    row.source_updated_at = envelope.occurred_at
    await uow.session.flush()

    settings = await repo.settings(event.workspace_id)
    if not settings.enabled:
        return
    workspace = await uow.workspaces.get(event.workspace_id)
    zone = _zone(workspace.timezone if workspace is not None else None)
    quiet = _quiet(settings)
    now = datetime.now(UTC)
    key = (event.workspace_id, event.booking_id)
    agent = booked_by_agent(event)
    confirmation = None if agent else plan_confirmation(event.start, now, quiet, zone)
    if first or moved:
        # Jobs of the new start are planned beside those of the old one; what was sent for
        # the old start stays as the record, what was still to go is cancelled.
        offsets = list(settings.offsets_minutes)
        told_now = agent or (confirmation is not None and confirmation.status == "scheduled")
        for job in plan_reminders(event.start, now, offsets, quiet, zone, told_now=told_now):
            await repo.put_job(*key, row.conversation_id, event.start, job, replace=True)
        await repo.cancel_scheduled(
            *key, REPLANNED, kind="reminder", keep_start=event.start, keep_offsets=offsets
        )
    if agent:
        await repo.cancel_scheduled(*key, AGENT_CONFIRMED, kind="confirmation")
    elif first or moved:
        assert confirmation is not None
        await repo.put_job(*key, row.conversation_id, event.start, confirmation, replace=True)
        await repo.cancel_scheduled(*key, REPLANNED, kind="confirmation", keep_start=event.start)


async def _chat_of_phone(
    uow: ConversationsUnitOfWork, repo: ReminderRepository, workspace_id: uuid.UUID, typed: str
) -> tuple[uuid.UUID, uuid.UUID] | None:
    workspace = await uow.workspaces.get(workspace_id)
    region = contact_rules.region_of(workspace.phone) if workspace is not None else None
    try:
        phone = contact_rules.normalize_phone(typed, region)
    except InvalidContactDetail:
        return None
    return await repo.chat_of_phone(workspace_id, phone)


async def project_booking_cancelled(uow: ConversationsUnitOfWork, envelope: Envelope) -> None:
    """The booking is off: its scheduled jobs are cancelled in the same transaction."""
    event = envelope.parsed()
    assert isinstance(event, BookingCancelledV1)
    repo = ReminderRepository(uow.session)
    await repo.lock_booking_key(event.workspace_id, event.booking_id)
    row = await repo.booking(event.workspace_id, event.booking_id, lock=True)
    if row is not None and row.source_updated_at > envelope.occurred_at:
        return
    if row is None:
        repo.add_booking(
            ReminderBooking(
                workspace_id=event.workspace_id,
                booking_id=event.booking_id,
                status="cancelled",
                source=event.source,
                source_updated_at=envelope.occurred_at,
            )
        )
    else:
        was_confirmed = row.status == "confirmed"
        if was_confirmed and await repo.reminded(event.workspace_id, event.booking_id):
            # The agent moves a booking by booking the new time and cancelling this one.
            if event.reason == MOVED:
                row.moved_after_reminder_at = envelope.occurred_at
            else:
                row.cancelled_after_reminder_at = envelope.occurred_at
        row.status = "cancelled"
        row.source_updated_at = envelope.occurred_at
        if was_confirmed and event.reason not in VISITOR_REASONS and row.start_at is not None:
            await _plan_cancellation_notice(uow, repo, row)
    for kind in ("reminder", "confirmation"):  # a cancellation notice planned here stays
        await repo.cancel_scheduled(event.workspace_id, event.booking_id, CANCELLED, kind=kind)


async def _plan_cancellation_notice(
    uow: ConversationsUnitOfWork, repo: ReminderRepository, row: ReminderBooking
) -> None:
    """The owner or the provider cancelled: the visitor is told the way a confirmation goes.
    A visitor who cancelled (or moved) by talking to the agent has its answer already."""
    assert row.start_at is not None
    settings = await repo.settings(row.workspace_id)
    if not settings.enabled:
        return
    workspace = await uow.workspaces.get(row.workspace_id)
    zone = _zone(workspace.timezone if workspace is not None else None)
    notice = plan_cancellation(row.start_at, datetime.now(UTC), _quiet(settings), zone)
    await repo.put_job(
        row.workspace_id, row.booking_id, row.conversation_id, row.start_at, notice, replace=False
    )


async def project_booking_marked(uow: ConversationsUnitOfWork, envelope: Envelope) -> None:
    """The owner's attendance mark and the visitor's confirmation, for the stats; the newest
    mark wins. Marks come after the appointment began, long after its creation: a booking
    not known here is logged and left."""
    event = envelope.parsed()
    assert isinstance(event, BookingMarkedV1)
    repo = ReminderRepository(uow.session)
    await repo.lock_booking_key(event.workspace_id, event.booking_id)
    row = await repo.booking(event.workspace_id, event.booking_id, lock=True)
    if row is None:
        log.warning("marks for a booking not known here", extra={"event_id": envelope.event_id})
        return
    if row.attendance_source_at is not None and row.attendance_source_at > envelope.occurred_at:
        return
    row.attendance = event.attendance
    row.attendance_source_at = envelope.occurred_at
    row.visitor_confirmed_at = row.visitor_confirmed_at or event.visitor_confirmed_at


# -- sending one due job --------------------------------------------------------------------


def when_text(start: datetime, zone: ZoneInfo, lang: str) -> str:
    """The appointment's time as the visitor reads it, in the workspace's timezone."""
    return format_datetime(start, "EEEE d MMMM, HH:mm", tzinfo=zone, locale=lang)


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # sent, failed, skipped, cancelled, or scheduled (held: new due_at)
    reason: str | None = None
    message_id: uuid.UUID | None = None
    due_at: datetime | None = None


class BatchReads:
    """What the jobs of one batch share, read once per transaction: their workspaces and
    settings, their bookings (in one query), the visitors' languages."""

    def __init__(self, uow: ConversationsUnitOfWork) -> None:
        self.uow = uow
        self.repo = ReminderRepository(uow.session)
        self._workspaces: dict[uuid.UUID, Workspace | None] = {}
        self._settings: dict[uuid.UUID, ReminderSettings] = {}
        self._bookings: dict[tuple[uuid.UUID, str], ReminderBooking | None] = {}
        self._langs: dict[uuid.UUID, str | None] = {}

    async def prefetch(self, jobs: list[ReminderJob]) -> None:
        by_workspace: dict[uuid.UUID, list[str]] = {}
        for job in jobs:
            by_workspace.setdefault(job.workspace_id, []).append(job.booking_id)
        for workspace_id, booking_ids in by_workspace.items():
            found = await self.repo.bookings(workspace_id, booking_ids)
            for booking_id in booking_ids:
                self._bookings[(workspace_id, booking_id)] = found.get(booking_id)

    async def booking(self, workspace_id: uuid.UUID, booking_id: str) -> ReminderBooking | None:
        key = (workspace_id, booking_id)
        if key not in self._bookings:
            self._bookings[key] = await self.repo.booking(workspace_id, booking_id)
        return self._bookings[key]

    async def workspace(self, workspace_id: uuid.UUID) -> Workspace | None:
        if workspace_id not in self._workspaces:
            self._workspaces[workspace_id] = await self.uow.workspaces.get(workspace_id)
        return self._workspaces[workspace_id]

    async def settings(self, workspace_id: uuid.UUID) -> ReminderSettings:
        if workspace_id not in self._settings:
            self._settings[workspace_id] = await self.repo.settings(workspace_id)
        return self._settings[workspace_id]

    async def language(self, conversation_id: uuid.UUID) -> str | None:
        if conversation_id not in self._langs:
            self._langs[conversation_id] = await self.repo.conversation_language(conversation_id)
        return self._langs[conversation_id]


async def send_reminder(
    uow: ConversationsUnitOfWork,
    job: ReminderJob,
    now: datetime,
    reads: BatchReads | None = None,
) -> Outcome:
    """Write one due job as it should go now, in the caller's transaction, and record the
    outcome on the job. The message goes the way every reply goes (store_reply: pending plus
    `message.reply_requested`); `sent` means it is written and queued for delivery."""
    outcome = await _outcome(uow, job, now, reads or BatchReads(uow))
    job.status = outcome.status
    job.reason = outcome.reason
    job.message_id = outcome.message_id
    if outcome.due_at is not None:
        job.due_at = outcome.due_at
    job.updated_at = now
    return outcome


async def _outcome(
    uow: ConversationsUnitOfWork, job: ReminderJob, now: datetime, reads: BatchReads
) -> Outcome:
    repo = reads.repo
    booking = await reads.booking(job.workspace_id, job.booking_id)
    kind: Kind = job.kind  # type: ignore[assignment]  # the column's check constraint
    # A notice of a cancellation goes for a cancelled booking; the others for a live one.
    wanted = "cancelled" if kind == "cancellation" else "confirmed"
    if booking is None or booking.status != wanted or booking.start_at is None:
        return Outcome("cancelled", CANCELLED if wanted == "confirmed" else REBOOKED)
    workspace = await reads.workspace(job.workspace_id)
    if workspace is None:
        return Outcome("skipped", WORKSPACE_GONE)
    settings = await reads.settings(job.workspace_id)
    if not settings.enabled:
        return Outcome("skipped", TURNED_OFF)
    zone = _zone(workspace.timezone)
    decision = decide_at_send(now, booking.start_at, _quiet(settings), zone, kind)
    if isinstance(decision, Skip):
        return Outcome("skipped", decision.reason)
    if isinstance(decision, Defer):
        return Outcome("scheduled", None, due_at=decision.due_at)

    conversation_id = job.conversation_id or booking.conversation_id
    conversation = await repo.conversation(conversation_id) if conversation_id else None
    if conversation is not None and conversation.workspace_id != job.workspace_id:
        conversation = None
    lang = language(await reads.language(conversation.id) if conversation is not None else None)
    facts = Facts(
        name=booking.visitor_name or (conversation.visitor_name if conversation else None),
        service=booking.service,
        time=when_text(booking.start_at, zone, lang),
        business=workspace.name or workspace.handle,
    )

    if conversation is None or conversation.channel == "web":
        email = booking.visitor_email or await repo.contact_email(
            conversation.contact_id if conversation is not None else booking.contact_id
        )
        if not email:
            return Outcome("skipped", WEB_UNREACHABLE if conversation else NO_CONVERSATION)
        await uow.emit(
            NotificationEmailRequestedV1(
                workspace_id=job.workspace_id,
                to=email,
                subject=subject(kind, lang, facts),
                text=compose(kind, lang, facts, settings.texts, "email"),
            )
        )
        message_id = None
        if conversation is not None:  # the visitor finds it in the chat too
            message_id = await _write(
                uow, conversation, compose(kind, lang, facts, settings.texts, "web"), job
            )
        return Outcome("sent", "e-mailed", message_id)

    channel = conversation.channel
    if channel == "sms" and conversation.opted_out_at is not None:
        return Outcome("skipped", OPTED_OUT)
    content = compose(kind, lang, facts, settings.texts, channel)
    template = None
    if channel in ("whatsapp", "messenger", "instagram"):
        last_visitor = await uow.conversations.last_visitor_message_at(conversation.id)
        try:
            reply_policy(channel, "agent", last_visitor, now)
        except ReplyWindowClosed as closed:
            if channel != "whatsapp":
                return Outcome(
                    "skipped",
                    f"{channel} takes automated messages only within 24 h of the visitor's "
                    "last message, and reminders may not use message tags",
                )
            if not settings.whatsapp_template:
                return Outcome("failed", NO_TEMPLATE)
            if kind == "cancellation":
                return Outcome("failed", NO_CANCELLATION_TEMPLATE)
            log.debug("outside the window: %s", closed)
            template = {
                "name": settings.whatsapp_template["name"],
                "language": settings.whatsapp_template["language"],
                "parameters": [
                    facts.name or TEMPLATE_NAME_FALLBACK,
                    facts.service or SERVICE_FALLBACK[lang],
                    facts.time,
                    facts.business,
                ],
                "buttons": answer_payloads(job.booking_id),
            }
    try:
        message_id = await _write(uow, conversation, content, job, template)
    except ReplyWindowClosed as closed:  # the rules moved between the check and the write
        return Outcome("failed", str(closed)[:500])
    return Outcome("sent", None, message_id)


async def _write(
    uow: ConversationsUnitOfWork,
    conversation: Conversation,
    content: str,
    job: ReminderJob,
    template: dict[str, Any] | None = None,
) -> uuid.UUID:
    metadata: dict[str, Any] = {
        "reminder": {"booking_id": job.booking_id, "kind": job.kind, "job_id": str(job.id)}
    }
    if template is not None:
        metadata["template"] = template
    messages = await store_reply(
        uow, conversation, role="agent", content=content, metadata=metadata
    )
    return messages[0].id
