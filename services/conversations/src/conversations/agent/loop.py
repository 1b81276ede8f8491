"""The agent as a consumer of `message.received`: one turn at a time per conversation.

A turn: take the conversation's lease (a row in `agent_conversations`, so replicas take
turns without holding a transaction), read what is unanswered, run the agent with no
transaction open, then store the reply, memory and handoff in one transaction. A burst of
visitor messages is answered once: a turn waits only while the visitor is still writing (web
chat: typing signals; other channels: messages still arriving, see `domain/burst.py`), and it
answers every message still unanswered. A redelivered event finds its message answered and
does nothing. Whatever fails, the visitor gets an answer or a person is called in.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from prometheus_client import Gauge
from pydantic_ai.models import Model
from sqlalchemy.exc import IntegrityError

from conversations.agent.calendar import Calendar, CalendarError, ConnectorsCalendar
from conversations.agent.core import TurnLimits, TurnOutcome, run_turn
from conversations.agent.knowledge import BusinessFacts
from conversations.agent.llm import model_from_settings
from conversations.agent.reading import warm_up
from conversations.agent.replies import cap, say
from conversations.agent.state import Dialogue
from conversations.agent.tools import (
    AgentDeps,
    CodeStatus,
    ConversationView,
    Reminded,
    Service,
    Visitor,
    WorkspaceView,
)
from conversations.agent.words.contact import ContactDetails
from conversations.agent.words.langs import detect_language
from conversations.agent.words.text import bound
from conversations.connectors import Connectors
from conversations.db.agent import (
    AgentRepository,
    Unanswered,
    business_facts,
    settings_of,
    unanswered_of,
)
from conversations.db.contacts import ContactsRepository
from conversations.db.uow import ConversationsUnitOfWork
from conversations.domain import conversation_state
from conversations.domain.burst import Waits, seconds_to_wait
from conversations.domain.contacts import InvalidContactDetail
from conversations.domain.reminder_answers import payload_booking
from conversations.domain.rules import MAX_TAGS, agent_reply_seconds
from conversations.reminders.repository import ReminderRepository
from conversations.settings import Settings
from conversations.usecases.identity import (
    IdentityPolicy,
    claim_email,
    identity_policy,
    record_webchat_booking,
    request_identity_code,
    verify_identity_code,
    webchat_booking_allowed,
)
from conversations.usecases.messages import store_reply
from shared.db.raw import Row
from shared.events import (
    BookingChangedByVisitorV1,
    ConversationHandedOffV1,
    Envelope,
    MessageReceivedV1,
)
from shared.runtime import Runtime

log = logging.getLogger(__name__)

CalendarFactory = Callable[[uuid.UUID], Calendar]
MAX_ROUNDS = 5  # turns one event may run back to back (messages that kept arriving)
WAITING = Gauge(
    "agent_waiting_messages",
    "Visitor messages whose turn waits for the visitor to finish writing",
    ["reason"],  # typing (web chat) or quiet (other channels)
)


@dataclass
class _Context:
    conversation: ConversationView
    workspace: WorkspaceView
    services: list[Service]
    provider: str | None
    greeting: str | None
    minutes_per_reply: int
    history: list[Any]
    memory: Dialogue
    message_ids: list[uuid.UUID]
    text: str
    facts: BusinessFacts | None = None
    visitor: Visitor | None = None
    required_contact: str = "name_and_phone_or_email"
    reminded: Reminded | None = None
    require_verified_on_webchat: bool = False


class _TurnTaken(Exception):
    """Another turn holds the conversation's lease."""


@dataclass(frozen=True)
class ConversationIdentity:
    """usecases.identity bound to one web chat: codes, and its address's booking limit."""

    uow: Callable[[], ConversationsUnitOfWork]
    conversation_id: uuid.UUID
    policy: IdentityPolicy
    bookings_per_address: int

    async def request_code(self, email: str, claim: bool = False) -> CodeStatus:
        """With `claim`, the address goes on this chat's contact first (as a claim), so a
        visitor new to the business can prove it too."""
        try:
            if claim:
                await claim_email(self.uow(), self.conversation_id, email)
            request = await request_identity_code(
                self.uow(), self.conversation_id, email, policy=self.policy
            )
        except InvalidContactDetail:
            return "cannot_send"
        return request.status

    async def verify_code(self, code: str) -> tuple[CodeStatus, uuid.UUID | None]:
        check = await verify_identity_code(
            self.uow(), self.conversation_id, code, policy=self.policy
        )
        return check.status, check.contact_id

    async def booking_allowed(self) -> bool:
        return await webchat_booking_allowed(
            self.uow(), self.conversation_id, limit=self.bookings_per_address
        )

    async def record_booking(self) -> None:
        await record_webchat_booking(self.uow(), self.conversation_id)


class AgentRunner:
    def __init__(
        self,
        runtime: Runtime,
        settings: Settings,
        *,
        connectors: Connectors | None = None,
        calendar_factory: CalendarFactory | None = None,
        model: Model | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        self.connectors = connectors or Connectors(
            settings.connectors_url,
            settings.token_key("connectors", "conversations"),
            settings.connectors_timeout_seconds,
        )
        self.calendar_factory = calendar_factory or self._connectors_calendar
        self.model = model if model is not None else model_from_settings(settings)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.limits = TurnLimits(
            requests=settings.agent_max_requests,
            tool_calls=settings.agent_max_tool_calls,
            total_tokens=settings.agent_max_tokens,
            timeout_seconds=settings.agent_turn_timeout_seconds,
        )
        self.lease_seconds = settings.agent_turn_timeout_seconds + 15
        self.burst_seconds = settings.agent_burst_seconds
        self.burst_max_seconds = settings.agent_burst_max_seconds
        self.typing_seconds = settings.agent_typing_seconds
        self.typing_max_seconds = settings.agent_typing_max_seconds
        self.enabled = settings.agent_enabled
        if self.enabled:
            # The readers' models and language data load once, off the event loop, before
            # the first visitor's turn needs them (about a second of CPU).
            threading.Thread(target=warm_up, name="agent-warm-up", daemon=True).start()

    def uow(self) -> ConversationsUnitOfWork:
        return ConversationsUnitOfWork(self.runtime.sessionmaker)

    def _connectors_calendar(self, owner_id: uuid.UUID) -> Calendar:
        return ConnectorsCalendar(self.connectors, owner_id)

    # -- the consumer ----------------------------------------------------------------------

    async def on_message_received(self, envelope: Envelope) -> None:
        event = envelope.parsed()
        assert isinstance(event, MessageReceivedV1)
        if not self.enabled:
            return
        if event.role == "owner":
            # The owner answered in person: the agent steps back in this conversation.
            async with self.uow() as uow:
                await AgentRepository(uow.session).pause(event.conversation_id)
                await uow.commit()
            return
        if event.role != "visitor":
            return
        await self.answer(event.conversation_id, event.message_id, event.channel)

    async def answer(
        self,
        conversation_id: uuid.UUID,
        message_id: uuid.UUID | None = None,
        channel: str | None = None,
    ) -> None:
        """Answer what is unanswered in this conversation, taking turns with other replicas.
        Given the visitor message that asks (and its channel), each round first waits while
        the visitor is still writing."""
        for _ in range(MAX_ROUNDS):
            if message_id is not None:
                await self._hold_off(conversation_id, message_id, channel == "web")
            try:
                context = await self._open(conversation_id)
            except _TurnTaken:
                if not await self._wait_for_lease(conversation_id):
                    return
                continue
            if context is None:
                return  # nothing to answer, and no lease was taken
            try:
                outcome = await self._think(context)
                pending = await self._write(context, outcome)
            except BaseException:
                # The turn failed before its write released the lease: release it here.
                async with self.uow() as uow:
                    await AgentRepository(uow.session).release_turn(conversation_id)
                    await uow.commit()
                raise
            if not pending:
                return
            if message_id is not None:
                message_id = pending[0].id  # the next round waits on what came meanwhile

    async def _hold_off(
        self, conversation_id: uuid.UUID, message_id: uuid.UUID, signals_typing: bool
    ) -> None:
        """Wait while the visitor is still writing (bounded; `domain/burst.py`). The state is
        read again after each pause: a new message or typing signal may have moved the end,
        and it may be on another replica's rows."""
        waits = Waits(
            quiet_seconds=self.burst_seconds,
            quiet_max_seconds=self.burst_max_seconds,
            typing_seconds=self.typing_seconds,
            typing_max_seconds=self.typing_max_seconds,
        )
        if (waits.typing_seconds if signals_typing else waits.quiet_seconds) <= 0:
            return  # that wait is off: not even a query
        waiting = WAITING.labels("typing" if signals_typing else "quiet")
        counted = False
        try:
            while True:
                async with self.uow() as uow:
                    burst = await AgentRepository(uow.session).burst(conversation_id, message_id)
                if burst is None:
                    return
                pause = seconds_to_wait(burst, waits, signals_typing=signals_typing)
                if pause <= 0:
                    return
                if not counted:
                    waiting.inc()
                    counted = True
                await asyncio.sleep(pause)
        finally:
            if counted:
                waiting.dec()

    async def _wait_for_lease(self, conversation_id: uuid.UUID) -> bool:
        """Another turn runs: wait for it (it may answer our message too), bounded."""
        deadline = time.monotonic() + self.lease_seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            async with self.uow() as uow:
                state = await AgentRepository(uow.session).state(conversation_id)
                if state is None:
                    return False
                if state.lease_until is None or state.lease_until < datetime.now(UTC):
                    return True
        return True

    # -- one turn --------------------------------------------------------------------------

    async def _open(self, conversation_id: uuid.UUID) -> _Context | None:
        """Take the turn's lease and read what the turn needs, in one transaction. None:
        nothing for the agent to answer (the lease is not kept). Raises _TurnTaken while
        another turn holds the lease."""
        async with self.uow() as uow:
            repo = AgentRepository(uow.session)
            try:
                memory = await repo.take_turn(conversation_id, self.lease_seconds)
            except IntegrityError:
                return None  # the conversation is gone
            if memory is None:
                raise _TurnTaken
            row = await repo.turn_context(conversation_id)
            unanswered = unanswered_of(row) if row is not None else []
            if row is None or not unanswered:
                return None  # rolled back: the lease was never taken
            ids = [m.id for m in unanswered]
            settings = settings_of(row)
            allowed = settings.channels is None or row.channel in settings.channels
            if not settings.enabled or not allowed or row.agent_paused:
                # Not the agent's to answer; once it is again, it answers only what is new.
                await repo.end_turn(conversation_id, answered=ids)
                await uow.commit()
                return None
            context = _Context(
                conversation=ConversationView(
                    row.id,
                    row.workspace_id,
                    row.channel,
                    row.visitor_id,
                    row.visitor_name,
                    row.visitor_contact,
                ),
                workspace=WorkspaceView(
                    row.workspace_id,
                    row.owner_id,
                    row.name or row.handle,
                    row.tone or "friendly",
                    _zone_name(row.timezone),
                ),
                services=[_service(s) for s in row.services],
                provider=row.provider,
                greeting=settings.greeting,
                minutes_per_reply=settings.minutes_per_reply,
                history=memory.history,
                memory=Dialogue.load(memory.memory),
                facts=business_facts(row),
                visitor=_visitor(row),
                reminded=_reminded(row.reminded),
                required_contact=settings.required_contact,
                require_verified_on_webchat=bool(settings.require_verified_contact_on_webchat),
                message_ids=ids,
                text="\n".join(_what_was_said(m) for m in unanswered),
            )
            await uow.commit()  # the lease is taken
            return context

    async def _think(self, context: _Context) -> TurnOutcome:
        """No transaction is open here: the model and the calendar take their time."""
        workspace = context.workspace
        calendar = self.calendar_factory(workspace.owner_id)
        services = context.services
        # Before any reading: the language of this message, so a refusal is in the visitor's.
        lang = detect_language(bound(context.text), context.memory.lang, workspace.language)
        if context.provider is None:
            reply = say(lang, "no_connector", name=workspace.name)
            return _handoff_only(context, reply, "no active connector")
        if context.provider != "builtin":
            # An outside calendar offers its own event types, not the workspace's list.
            try:
                services = [
                    Service(t.id, t.name, t.duration_minutes, t.description)
                    for t in await calendar.event_types()
                ]
            except CalendarError as exc:
                reply = say(lang, "trouble", name=workspace.name)
                return _handoff_only(context, reply, f"calendar unavailable: {exc}"[:200])
        deps = AgentDeps(
            conversation=context.conversation,
            workspace=workspace,
            services=services,
            calendar=calendar,
            now=self.clock().astimezone(ZoneInfo(workspace.timezone)),
            memory=context.memory,
            greeting=context.greeting,
            facts=context.facts,
            visitor=context.visitor or Visitor(name=context.conversation.visitor_name),
            required_contact=context.required_contact,  # type: ignore[arg-type]
            reminded=context.reminded,
            bookings_per_contact=self.settings.bookings_per_contact,
            identity=self._identity(context.conversation),
            require_verified_on_webchat=context.require_verified_on_webchat,
        )
        return await run_turn(
            deps, context.text, context.history, model=self.model, limits=self.limits
        )

    def _identity(self, conversation: ConversationView) -> ConversationIdentity | None:
        if conversation.channel != "web":
            return None  # other channels prove the sender, or have no way to send a code
        return ConversationIdentity(
            self.uow,
            conversation.id,
            identity_policy(self.settings),
            self.settings.webchat_bookings_per_address_per_day,
        )

    async def _write(self, context: _Context, outcome: TurnOutcome) -> list[Unanswered]:
        """Store the turn and release its lease; returns what the visitor wrote meanwhile."""
        try:
            return await self._store(context, outcome, reply=True)
        except Exception as exc:
            # The reply path refused (a channel rule, a closed window...): a person takes over.
            log.warning(
                "agent reply refused; handing off",
                extra={"conversation_id": str(context.conversation.id), "error": str(exc)},
            )
            outcome.handoff_reason = f"reply not sent: {exc}"[:200]
            return await self._store(context, outcome, reply=False)

    async def _store(
        self, context: _Context, outcome: TurnOutcome, *, reply: bool
    ) -> list[Unanswered]:
        """The reply, memory, booking and handoff in one transaction, which also releases the
        turn's lease; returns what the visitor wrote meanwhile (released and checked in one
        statement: a message stored after it waits on the released row's lock, then takes
        the next turn itself)."""
        conversation_id = context.conversation.id
        async with self.uow() as uow:
            repo = AgentRepository(uow.session)
            conversation = await uow.conversations.lock_for_reply(
                context.workspace.id, conversation_id
            )
            if conversation is None:
                return []
            now = datetime.now(UTC)
            took_over = conversation.agent_paused
            added: dict[str, int] = {}
            values: dict[str, Any] = {}
            if reply and (not took_over or outcome.booked or outcome.cancelled):
                handing_off = outcome.handoff_reason is not None
                await store_reply(
                    uow,
                    conversation,
                    role="agent",
                    content=cap(outcome.reply, conversation.channel),
                    metadata={"agent": _summary(outcome, self.model)},
                    last_visitor=conversation.last_visitor_at,
                )
                seconds = agent_reply_seconds(
                    context.minutes_per_reply,
                    handoff=handing_off,
                    after_handoff=conversation.handed_off_at is not None,
                )
                added = {"agent_replies": 1, "time_saved_seconds": seconds}
            if outcome.booked:
                values |= {"agent_booking": outcome.booked.model_dump(mode="json")}
                if outcome.handoff_reason is None:
                    values |= conversation_state.resolved_by_agent(now)
            elif outcome.cancelled and conversation.agent_booking:
                values["agent_booking"] = {
                    **outcome.cancelled.model_dump(mode="json"),
                    "cancelled_at": now.isoformat(),
                }
            if outcome.cancelled is not None:
                tag = await _tell_owner_of_change(uow, context, conversation, outcome, now)
                if tag not in conversation.tags and len(conversation.tags) < MAX_TAGS:
                    values["tags"] = sorted({*conversation.tags, tag})
            if outcome.reminders_stopped is not None:
                # A reminder reached someone who did not book, or the visitor asked for no more
                # messages: nothing more is sent to that chat unasked.
                await ReminderRepository(uow.session).cancel_scheduled_in_conversation(
                    context.workspace.id, conversation_id, outcome.reminders_stopped
                )
            if outcome.handoff_reason is not None and not took_over:
                values |= conversation_state.handed_off(now, outcome.handoff_reason)
                await uow.emit(
                    ConversationHandedOffV1(
                        conversation_id=conversation_id,
                        workspace_id=conversation.workspace_id,
                        channel=conversation.channel,
                        reason=outcome.handoff_reason,
                        visitor_name=conversation.visitor_name,
                        handed_off_at=now,
                        owner_id=context.workspace.owner_id,
                    )
                )
            await uow.conversations.change(conversation_id, add=added, assign=values)
            await _learn(
                uow, context.visitor.contact_id if context.visitor else None, outcome.learned
            )
            if outcome.confirmed:
                # The calendar holds the confirmation; the reminders' stats count it too.
                await ReminderRepository(uow.session).mark_visitor_confirmed(
                    context.workspace.id, outcome.confirmed
                )
            pending = await repo.end_turn(
                conversation_id,
                answered=context.message_ids,
                history=outcome.history,
                memory=context.memory.dump(),
            )
            await uow.commit()
            return pending


async def _tell_owner_of_change(
    uow: ConversationsUnitOfWork,
    context: _Context,
    conversation: Row,
    outcome: TurnOutcome,
    now: datetime,
) -> str:
    """The visitor cancelled or moved a booking here: the owner is told by e-mail (the
    gateway's, from `booking.changed_by_visitor`) and on their stream (the conversation is
    tagged `booking-cancelled` or `booking-moved`). Returns the tag."""
    old = outcome.cancelled
    assert old is not None
    moved = outcome.booked is not None
    await uow.emit(
        BookingChangedByVisitorV1(
            workspace_id=conversation.workspace_id,
            conversation_id=conversation.id,
            owner_id=context.workspace.owner_id,
            channel=conversation.channel,
            visitor_name=conversation.visitor_name,
            change="moved" if moved else "cancelled",
            booking_id=old.id,
            service=old.service,
            start=old.start,
            new_start=outcome.booked.start if outcome.booked else None,
            timezone=context.workspace.timezone,
            after_reminder=await ReminderRepository(uow.session).reminded(
                conversation.workspace_id, old.id
            ),
            changed_at=now,
        )
    )
    return "booking-moved" if moved else "booking-cancelled"


def _handoff_only(context: _Context, reply: str, reason: str) -> TurnOutcome:
    return TurnOutcome(
        reply=reply,
        history=context.history,
        handoff_reason=reason,
        booked=None,
        cancelled=None,
        failed=reason,
    )


def _summary(outcome: TurnOutcome, model: Model | None) -> dict[str, Any]:
    return {
        "model": getattr(model, "model_name", None) or "builtin",
        "handoff": outcome.handoff_reason,
        "booked": outcome.booked.model_dump(mode="json") if outcome.booked else None,
        "failed": outcome.failed,
    }


def _what_was_said(message: Any) -> str:
    """A tapped reminder button is read as its payload (`reminder:cancel:<booking id>`,
    kept by the gateway in the metadata): it names the booking, the button's text does not."""
    payload = (message.meta or {}).get("payload")
    if isinstance(payload, str) and payload_booking(payload) is not None:
        return payload
    return str(message.content)


_PROVEN_BY_CHANNEL = ("whatsapp", "sms", "messenger", "instagram")


def _visitor(row: Any) -> Visitor:
    """Who writes, from the conversation's contact in a `turn_context` row (a channel's
    number is proven by it; on web chat, a one-time code proves the contact)."""
    if row.contact_id is None:
        return Visitor(name=row.visitor_name)
    return Visitor(
        contact_id=row.contact_id,
        name=row.contact_name or row.visitor_name,
        phone=row.contact_phone,
        email=row.contact_email,
        verified_channel=row.channel in _PROVEN_BY_CHANNEL,
        proven=row.channel == "web" and row.proven_contact_id == row.contact_id,
    )


def _service(s: dict[str, Any]) -> Service:
    price = Decimal(s["price"]) if s["price"] is not None else None
    return Service(
        s["id"], s["name"], s["duration_minutes"], s["description"], price, s["currency"]
    )


def _reminded(row: dict[str, Any] | None) -> Reminded | None:
    """The booking this conversation was last reminded of (or sent a confirmation for), while
    its time has not come: a short answer ("C", "X", a button) refers to it."""
    if row is None or row["start_at"] is None:
        return None
    start = datetime.fromisoformat(row["start_at"])
    return Reminded(row["booking_id"], row["service"] or "", start, fresh=bool(row["fresh"]))


async def _learn(
    uow: ConversationsUnitOfWork, contact_id: uuid.UUID | None, learned: ContactDetails | None
) -> None:
    """What the visitor typed about themselves goes to their contact, as a claim (a typed
    phone or e-mail is unverified until a code proves it)."""
    if contact_id is None or learned is None or learned.empty:
        return
    values = {k: v for k, v in (("name", learned.name), ("phone", learned.phone),
              ("email", learned.email)) if v}  # fmt: skip
    try:
        await ContactsRepository(uow.session, uow.emit).update_details(contact_id, **values)
    except InvalidContactDetail as exc:
        log.info("visitor's details not stored", extra={"error": str(exc)})


def _zone_name(name: str) -> str:
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
