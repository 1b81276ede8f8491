"""Sending each reply once: claim, call the provider outside any transaction, record.

1. The reply's row is claimed `pending -> sending` in a transaction of its own, committed
   before the provider is called: of several consumers holding the same
   `message.reply_requested` (redelivery, duplicates), only the one whose UPDATE matched
   sends.
2. The provider is called with no transaction open; errors documented as not processed are
   retried with backoff (honouring Retry-After).
3. The outcome is recorded `sending -> sent | failed | unknown` with the provider's message
   id in `external_id` (where status webhooks find it), plus `message.delivery_updated`.
A consumer that dies between 1 and 3 leaves the row `sending`; the redelivered event finds
it claimed and stops, and the sweep turns it `unknown` after `delivery_stale_seconds`: a
reply that may have gone out is never sent twice automatically.

No tenant holds up the others (delivery/slots.py): a reply whose channel account or workspace
already has its share of sends in flight is parked before step 1, still `pending`, and a
connect timeout (nothing sent) is not waited out again in place: the claim goes back
`sending -> pending` and the event is parked (delivery/parking.py), up to
`delivery_max_retries` times, then `failed`. Integrator callbacks go through their own client,
which connects only to public addresses (delivery/guard.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations.db.uow import ConversationsUnitOfWork
from conversations.delivery.base import Attempt, OutboundMessage, Sender, SenderConfig
from conversations.delivery.callback import CallbackSender
from conversations.delivery.coalesce import Coalescer
from conversations.delivery.guard import AddressGuard, guarded_client
from conversations.delivery.messenger import MessagingSender
from conversations.delivery.pacing import Pacer
from conversations.delivery.parking import Parking
from conversations.delivery.repository import (
    Account,
    Claimed,
    DeliveryRepository,
    DueReply,
    Moved,
    Record,
    TakenReceipt,
)
from conversations.delivery.slots import TenantSlots
from conversations.delivery.twilio import TwilioSender
from conversations.delivery.whatsapp import WhatsAppSender
from conversations.domain.credentials import AnyCredentials, parse_credentials
from conversations.domain.rules import delivery_advances
from conversations.settings import Settings
from shared import telemetry
from shared.crypto import UnreadableSecret, Vault
from shared.events import Envelope, MessageDeliveryUpdatedV1, MessageReplyRequestedV1

log = logging.getLogger(__name__)
AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}

INTERRUPTED = (
    "delivery was interrupted while the provider was being called; the reply may have been "
    "sent, so it is not resent automatically (retry it if the visitor did not get it)"
)


def updated_event(moved: Moved) -> MessageDeliveryUpdatedV1:
    return MessageDeliveryUpdatedV1(
        message_id=moved.message_id,
        conversation_id=moved.conversation_id,
        workspace_id=moved.workspace_id,
        channel=moved.channel,  # type: ignore[arg-type]
        delivery_status=moved.delivery_status,  # type: ignore[arg-type]
        delivery_error=moved.delivery_error,
        updated_at=moved.updated_at,
    )


async def emit_moved(uow: ConversationsUnitOfWork, moved: Moved) -> None:
    await uow.emit(updated_event(moved))


def credentials_of(
    encrypted: str | None, vault: Vault, allow_loopback_http: bool = False
) -> AnyCredentials | None:
    """An account's credentials, judged by today's rules (a callback URL saved before they
    tightened is refused here, as at saving); ValidationError when they do not pass."""
    if encrypted is None:
        return None
    return parse_credentials(vault.decrypt(encrypted), allow_loopback_http=allow_loopback_http)


@dataclass(frozen=True, slots=True)
class Finish:
    """A reply's outcome to record, and the event that asked for it (its correlation and
    trace carry on to `message.delivery_updated`)."""

    message_id: uuid.UUID
    from_states: tuple[str, ...]
    attempt: Attempt
    cause: Envelope | None


class Slot:
    """A send's share of its tenant (delivery/slots.py), given back once."""

    def __init__(self, slots: TenantSlots, account: str, workspace: str) -> None:
        self.slots, self.account, self.workspace = slots, account, workspace
        self.held = True

    def give_back(self) -> None:
        if self.held:
            self.held = False
            self.slots.give_back(self.account, self.workspace)


class Stopping(Exception):
    """The process is shutting down: the reply is left pending for another consumer."""


class SendLater(Exception):
    """The provider could not be reached in time; the reply is `pending` again, to be parked."""


class Delivery:
    """Built once per app with one pooled HTTP client; the lifespan starts the sweep and,
    at shutdown, lets sends in flight finish before the client closes."""

    def __init__(
        self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], vault: Vault
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.vault = vault
        self.pacer = Pacer()
        self._locks: dict[uuid.UUID, tuple[asyncio.Lock, int]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._closing = False
        s = settings
        # Built here, not at start: consumers may take a message as soon as the broker
        # connects, before the app's startup hook runs. No connection is opened until used.
        self.client = httpx.AsyncClient(
            timeout=s.delivery_timeout_seconds,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            follow_redirects=False,
        )
        telemetry.instrument_client(self.client)  # a client span per provider send
        config = SenderConfig(
            graph_api_base_url=s.graph_api_base_url,
            graph_api_version=s.graph_api_version,
            twilio_api_base_url=s.twilio_api_base_url,
            public_base_url=s.public_base_url,
            timeout_seconds=s.delivery_timeout_seconds,
        )
        # Integrators' servers are anybody's: their own client, guarded and short.
        self.guard = AddressGuard(allow_loopback=s.callback_allow_loopback_http)
        self.callback_client = guarded_client(
            self.guard,
            httpx.Timeout(
                s.delivery_callback_timeout_seconds,
                connect=s.delivery_callback_connect_timeout_seconds,
            ),
        )
        telemetry.instrument_client(self.callback_client)
        self.slots = TenantSlots(
            s.delivery_concurrency_per_account, s.delivery_concurrency_per_workspace
        )
        self.parking: Parking | None = None  # set where the consumer is registered
        senders: list[Sender] = [
            WhatsAppSender(self.client, config),
            MessagingSender(self.client, config),
            TwilioSender(self.client, config),
            CallbackSender(
                self.callback_client,
                config,
                connect_timeout=s.delivery_callback_connect_timeout_seconds,
                total_timeout=s.delivery_callback_timeout_seconds,
            ),
        ]
        self.senders: dict[str, Sender] = {
            channel: sender for sender in senders for channel in sender.channels
        }
        # Replies in flight together share their statements (delivery/coalesce.py).
        self._plans = Coalescer(self._plan_many)
        self._claims = Coalescer(self._claim_many)
        self._records = Coalescer(self._record_many)
        self._credentials_seen: dict[tuple[uuid.UUID, str | None], AnyCredentials | str] = {}

    async def start(self, sweep: bool = True) -> None:
        if sweep:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="delivery-sweep")

    async def stop(self, drain_seconds: float = 15.0) -> None:
        self._closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._in_flight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), drain_seconds)
        await self.client.aclose()
        await self.callback_client.aclose()

    def uow(self) -> ConversationsUnitOfWork:
        return ConversationsUnitOfWork(self.sessionmaker)

    # -- the consumer --------------------------------------------------------------------

    async def on_reply_requested(self, envelope: Envelope, parked_attempts: int = 0) -> None:
        """Send this reply, and any earlier pending reply of its conversation first; park it
        when its tenant has its share of sends in flight, or its provider timed out."""
        event = envelope.parsed()
        assert isinstance(event, MessageReplyRequestedV1)
        if event.channel == "web" or self.parking is None:
            await self._deliver_due(event, envelope, park_ok=False)
            return
        workspace = str(event.workspace_id)
        due: list[DueReply] | None = None
        account = None
        if self.slots.in_use(workspace) < self.slots.per_workspace:
            due = await self._plans(event.message_id)
            if not due:
                return  # sent, being sent (a copy of this event), or deleted
            account = str(due[0].conversation_account or f"{workspace}:{event.channel}")
        if account is None or not self.slots.take(account, workspace):
            await self.parking.park(envelope, self.settings.delivery_park_seconds, parked_attempts)
            return
        slot = Slot(self.slots, account, workspace)
        try:
            retry_left = parked_attempts < self.settings.delivery_max_retries
            await self._deliver_due(event, envelope, park_ok=retry_left, due=due, slot=slot)
        except SendLater:
            wait = self.settings.delivery_park_seconds * 2**parked_attempts
            await self.parking.park(envelope, wait, parked_attempts + 1)
        finally:
            slot.give_back()

    async def _deliver_due(
        self,
        event: MessageReplyRequestedV1,
        cause: Envelope | None,
        park_ok: bool,
        due: list[DueReply] | None = None,
        slot: Slot | None = None,
    ) -> None:
        async with self._conversation_turn(event.conversation_id) as waited:
            if due is None or waited:  # another send of this conversation went first
                due = await self._plans(event.message_id)
            for number, reply in enumerate(due, 1):
                await self._deliver_one(reply, cause, park_ok, slot if number == len(due) else None)

    @contextlib.asynccontextmanager
    async def _conversation_turn(self, conversation_id: uuid.UUID) -> AsyncIterator[bool]:
        """One delivery at a time per conversation in this process, so parts go in order;
        yields whether another one held the turn first (what was read before may be stale)."""
        lock, users = self._locks.get(conversation_id, (asyncio.Lock(), 0))
        self._locks[conversation_id] = (lock, users + 1)
        try:
            waited = lock.locked()
            async with lock:
                yield waited
        finally:
            lock, users = self._locks[conversation_id]
            if users <= 1:
                del self._locks[conversation_id]
            else:
                self._locks[conversation_id] = (lock, users - 1)

    async def deliver(
        self, message_id: uuid.UUID, cause: Envelope | None = None, park_ok: bool = False
    ) -> None:
        """Send one pending reply. `park_ok`: a connect timeout puts it back `pending` and
        raises SendLater (the caller parks the event); otherwise it ends `failed`."""
        for reply in await self._plans(message_id):
            if reply.message_id == message_id:
                await self._deliver_one(reply, cause, park_ok)

    async def _deliver_one(
        self, reply: DueReply, cause: Envelope | None, park_ok: bool, slot: Slot | None = None
    ) -> None:
        """`slot`: the tenant's share this send holds, given back once the provider answered
        (recording the outcome is no provider's business)."""
        message_id = reply.message_id
        if reply.channel == "web":
            # Stored where the visitor's chat reads it (and its live stream pushes it).
            await self._finish(message_id, ("pending",), Attempt("sent"), cause)
            return
        prepared = self._prepare(reply)
        if isinstance(prepared, str):
            await self._finish(message_id, ("pending",), Attempt("failed", error=prepared), cause)
            return
        account, credentials = prepared
        sender = self.senders[reply.channel]
        # Wait for the account's turn before claiming: a reply waiting here is still
        # `pending`, so a crash now loses nothing and the redelivery sends it.
        await self.pacer.wait_turn(
            f"{reply.channel}:{account.account_id}", self.settings.delivery_rate(reply.channel)
        )
        if self._closing:
            raise Stopping("shutting down; the reply stays pending for the next consumer")
        self._in_flight += 1
        self._idle.clear()
        try:
            claimed = await self._claims(message_id)
            if claimed is None:
                return  # another consumer has it, or had it
            outbound = OutboundMessage(
                message_id=message_id,
                channel=reply.channel,
                account_id=account.account_id,
                recipient=reply.visitor_id,
                content=claimed.content,
                role=claimed.role,
                conversation_id=reply.conversation_id,
                workspace_id=reply.workspace_id,
                tag=claimed.meta.get("tag"),
                template=claimed.meta.get("template"),
            )
            attempt = await self._send(sender, outbound, credentials)
            if slot is not None:
                slot.give_back()
            if attempt.kind == "retry" and park_ok:
                async with self.uow() as uow:
                    await DeliveryRepository(uow.session).move(
                        message_id, from_states=("sending",), to="pending"
                    )
                    await uow.commit()
                raise SendLater(attempt.error)
            if attempt.kind == "retry":
                attempt = Attempt(
                    "failed",
                    error=f"{attempt.error or 'not reached'}; still unreachable after "
                    "retrying, it was not sent (retry it later)",
                    code=attempt.code,
                )
            await self._finish(message_id, ("sending", "unknown"), attempt, cause)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    def _prepare(self, reply: DueReply) -> tuple[Account, AnyCredentials] | str:
        """The account and credentials to send with, or why it cannot be sent (no call)."""
        channel, account = reply.channel, reply.account
        if account is None:
            return (
                f"No {channel} channel account is connected to this conversation's workspace, "
                "so the reply cannot be sent"
            )
        if channel == "sms" and reply.opted_out:
            return "The visitor opted out of SMS (STOP); replies resume once they send START"
        credentials = self._credentials(account, channel)
        if isinstance(credentials, str):
            return credentials
        return account, credentials

    def _credentials(self, account: Account, channel: str) -> AnyCredentials | str:
        """The account's credentials, decrypted and judged once per stored value (a change
        of credentials is a new value), or why they cannot be used."""
        key = (account.id, account.credentials_encrypted)
        known = self._credentials_seen.get(key)
        if known is None:
            known = self._read_credentials(account, channel)
            if len(self._credentials_seen) >= 1000:
                self._credentials_seen.clear()
            self._credentials_seen[key] = known
        return known

    def _read_credentials(self, account: Account, channel: str) -> AnyCredentials | str:
        try:
            credentials = credentials_of(
                account.credentials_encrypted,
                self.vault,
                self.settings.callback_allow_loopback_http,
            )
        except UnreadableSecret:
            return (
                f"The credentials of the {channel} account {account.account_id} cannot be "
                "decrypted with the configured keys; enter them again"
            )
        except ValidationError as exc:
            reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
            return (
                f"The credentials of the {channel} account {account.account_id} are no longer "
                f"accepted ({reasons}), so the reply was not sent; update them with PATCH "
                f"/api/v1/channel-accounts/{account.id}"
            )
        if credentials is None:
            return (
                f"The {channel} account {account.account_id} has no credentials for sending; "
                f"add them with PATCH /api/v1/channel-accounts/{account.id}"
            )
        return credentials

    async def _send(
        self, sender: Sender, outbound: OutboundMessage, credentials: AnyCredentials
    ) -> Attempt:
        s = self.settings
        attempt = Attempt("retry")
        for number in range(s.delivery_max_retries + 1):
            attempt = await sender.send(outbound, credentials)
            if attempt.kind != "retry" or attempt.later:
                return attempt  # a timeout is not waited out again here: the caller parks it
            if number == s.delivery_max_retries:
                break
            wait = attempt.retry_after
            if wait is None:
                base = s.delivery_backoff_seconds * 2**number
                wait = base + random.uniform(0, base / 2)
            if wait > s.delivery_max_retry_after_seconds:
                break
            log.info(
                "provider did not take the reply, retrying",
                extra={"channel": outbound.channel, "attempt": number + 1, "wait": wait},
            )
            await asyncio.sleep(wait)
        return Attempt(
            "failed",
            error=f"{attempt.error or 'not accepted'}; still refused after retrying, it was "
            "not sent (retry it later)",
            code=attempt.code,
        )

    async def _finish(
        self,
        message_id: uuid.UUID,
        from_states: tuple[str, ...],
        attempt: Attempt,
        cause: Envelope | None,
    ) -> None:
        assert attempt.kind != "retry"
        moved = await self._records(Finish(message_id, from_states, attempt, cause))
        if moved is None:
            return
        log.info(
            "reply %s",
            attempt.kind,
            extra={"message_id": str(message_id), "channel": moved.channel, "error": attempt.error},
        )

    # -- the statements, each for all the replies that need it at once -------------------

    async def _plan_many(self, message_ids: list[uuid.UUID]) -> list[list[DueReply]]:
        async with self.sessionmaker() as session:
            await session.connection(execution_options=AUTOCOMMIT)  # a read: no BEGIN
            return await DeliveryRepository(session).plan(message_ids)

    async def _claim_many(self, message_ids: list[uuid.UUID]) -> list[Claimed | None]:
        async with self.sessionmaker() as session:
            # One statement, a transaction by itself: committed when it answers.
            await session.connection(execution_options=AUTOCOMMIT)
            return await DeliveryRepository(session).claim(message_ids)

    async def _record_many(self, finishes: list[Finish]) -> list[Moved | None]:
        """The outcomes (with the receipts that came before them), their
        `message.delivery_updated` events and the opt-outs they carry: one transaction."""
        async with self.uow() as uow:
            repo = DeliveryRepository(uow.session)
            recorded = await repo.record(
                [
                    Record(
                        f.message_id,
                        f.from_states,
                        f.attempt.kind,
                        f.attempt.error,
                        f.attempt.external_id,
                    )
                    for f in finishes
                ]
            )
            done = [(f, r) for f, r in zip(finishes, recorded, strict=True) if r is not None]
            events = [(updated_event(r.moved), f.cause) for f, r in done]
            opted_out = [r.moved.conversation_id for f, r in done if f.attempt.opted_out]
            if opted_out:
                await repo.opt_out(opted_out)
            for f, r in done:
                if r.early:
                    again = await self._apply_early(repo, r.moved, r.early)
                    if again is not None:
                        events.append((updated_event(again), f.cause))
            await uow.emit_many(events)
            await uow.commit()
        return [r.moved if r is not None else None for r in recorded]

    async def _apply_early(
        self, repo: DeliveryRepository, moved: Moved, receipts: list[TakenReceipt]
    ) -> Moved | None:
        state, error = moved.delivery_status, moved.delivery_error
        for receipt in receipts:
            if delivery_advances(state, receipt.status):
                state = receipt.status
                error = receipt.error if state == "failed" else None
        if state == moved.delivery_status:
            return None
        return await repo.move(
            moved.message_id, from_states=(moved.delivery_status,), to=state, error=error
        )

    # -- the sweep -----------------------------------------------------------------------

    async def sweep(self, stale_seconds: float | None = None) -> int:
        """Turn replies stuck in `sending` into `unknown`; returns how many."""
        stale = stale_seconds if stale_seconds is not None else self.settings.delivery_stale_seconds
        now = datetime.now(UTC)
        async with self.uow() as uow:
            repo = DeliveryRepository(uow.session)
            moved = await repo.sweep_stale(now - timedelta(seconds=stale), INTERRUPTED)
            for row in moved:
                await emit_moved(uow, row)
            await repo.forget_early_receipts(now - timedelta(days=1))
            await uow.commit()
        if moved:
            log.warning("replies interrupted mid-send marked unknown", extra={"count": len(moved)})
        return len(moved)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.delivery_sweep_seconds)
            try:
                await self.sweep()
            except Exception:
                log.exception("delivery sweep failed; trying again later")
