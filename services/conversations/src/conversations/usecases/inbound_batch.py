"""Inbound messages in batches: many deliveries stored in one transaction, set-based.

Storing one message used to be an ORM unit of work of about ten statements and a commit. Here
a batch of N deliveries costs the same handful of statements whatever N is:

1. the inbox claims, one `INSERT ... SELECT FROM unnest ... ON CONFLICT DO NOTHING RETURNING`
   (a redelivered event is skipped, as one at a time);
2. routing, one query for the channel accounts named and one for the workspaces named;
3. the conversations they continue, one query by (workspace, channel, visitor);
4. the messages, one insert (`ON CONFLICT (channel, external_id) DO NOTHING`: a provider's
   retry is stored once);
5. the conversations' counters, one update (rows locked in id order, so two consumers never
   deadlock on each other's batches);
6. `message.received` for each stored message, one outbox insert.

What is not a plain visitor message of a known route (delivery receipts, messages for a named
conversation, what cannot be routed) goes through `accept_routed`, the one-at-a-time path, in
the same transaction and in its place in the batch, so order per conversation is the order
of delivery. A visitor's first message opens the conversation (and finds or creates the
contact, with its phone-linking rules) through the same code as one at a time: one
conversation per new visitor, not per message.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import text

from conversations.db.uow import ConversationsUnitOfWork
from conversations.domain.delivery import opt_out_change
from conversations.usecases.inbound import accept_routed, conversation_for
from conversations.usecases.messages import emit_started
from shared.db.raw import Prepared, Raw
from shared.events import Envelope, InboundMessageAcceptedV1, MessageReceivedV1

log = logging.getLogger(__name__)

_CLAIM = Prepared(
    text(
        "INSERT INTO conversations.inbox (consumer, event_id, event_type) "
        "SELECT :consumer, e, :event_type FROM unnest(CAST(:event_ids AS uuid[])) AS e "
        "ON CONFLICT DO NOTHING RETURNING event_id"
    )
)
# Only a verified claim routes, and only for a workspace that is not deleted.
_ROUTE_ACCOUNTS = Prepared(
    text(
        "SELECT a.channel, a.account_id, a.workspace_id, a.id "
        "FROM conversations.channel_accounts a "
        "JOIN unnest(CAST(:channels AS text[]), CAST(:accounts AS text[])) "
        "  AS k(channel, account_id) "
        "  ON a.channel = k.channel AND a.account_id = k.account_id "
        "JOIN conversations.workspaces w ON w.id = a.workspace_id AND NOT w.deleted "
        "WHERE a.verification = 'verified'"
    )
)
_LIVE_WORKSPACES = Prepared(
    text(
        "SELECT id FROM conversations.workspaces "
        "WHERE id = ANY(CAST(:workspace_ids AS uuid[])) AND NOT deleted"
    )
)
_CONVERSATIONS = Prepared(
    text(
        "SELECT c.id, c.workspace_id, c.channel, c.visitor_id FROM conversations.conversations c "
        "JOIN unnest(CAST(:workspace_ids AS uuid[]), CAST(:channels AS text[]), "
        "  CAST(:visitor_ids AS text[])) AS k(workspace_id, channel, visitor_id) "
        "  ON c.workspace_id = k.workspace_id AND c.channel = k.channel "
        "  AND c.visitor_id = k.visitor_id"
    )
)
_MESSAGES = Prepared(
    text(
        "INSERT INTO conversations.messages "
        "  (id, conversation_id, workspace_id, role, content, channel, external_id, sent_at, "
        "   metadata) "
        "SELECT id, conversation_id, workspace_id, 'visitor', content, channel, external_id, "
        "  sent_at, meta::jsonb "
        "FROM unnest(CAST(:ids AS uuid[]), CAST(:conversation_ids AS uuid[]), "
        "  CAST(:workspace_ids AS uuid[]), CAST(:contents AS text[]), CAST(:channels AS text[]), "
        "  CAST(:external_ids AS text[]), CAST(:sent_ats AS timestamptz[]), "
        "  CAST(:metas AS text[])) WITH ORDINALITY "
        "  AS m(id, conversation_id, workspace_id, content, channel, external_id, sent_at, "
        "       meta, n) "
        "ORDER BY n "
        "ON CONFLICT (channel, external_id) DO NOTHING RETURNING id"
    )
)
# A visitor writing to a resolved conversation puts it back in the queue (rules.reopens).
_COUNTERS = Prepared(
    text(
        "WITH d AS (SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:counts AS int[]), "
        "  CAST(:firsts AS timestamptz[]), CAST(:lasts AS timestamptz[]), "
        "  CAST(:names AS text[]), CAST(:accounts AS uuid[])) "
        "  AS d(id, n, first_at, last_at, visitor_name, account_ref)), "
        "locked AS (SELECT c.id FROM conversations.conversations c "
        "  WHERE c.id IN (SELECT id FROM d) "
        "  ORDER BY c.id FOR NO KEY UPDATE) "
        "UPDATE conversations.conversations c SET "
        "  message_count = c.message_count + d.n, "
        "  last_message_at = greatest(c.last_message_at, d.last_at), "
        "  last_activity_at = greatest(c.last_activity_at, d.last_at), "
        "  started_at = least(c.started_at, d.first_at), "
        "  status = CASE WHEN c.status = 'resolved' THEN 'open' ELSE c.status END, "
        "  visitor_name = coalesce(c.visitor_name, d.visitor_name), "
        "  channel_account_id = coalesce(c.channel_account_id, d.account_ref), "
        "  updated_at = now() "
        "FROM d WHERE c.id = d.id AND c.id IN (SELECT id FROM locked)"
    )
)

Key = tuple[uuid.UUID, str, str]  # workspace, channel, visitor
T = TypeVar("T")


@dataclass(slots=True)
class _Item:
    envelope: Envelope
    event: InboundMessageAcceptedV1
    workspace_id: uuid.UUID | None = None
    account_ref: uuid.UUID | None = None

    @property
    def plain(self) -> bool:
        """A visitor message of a known route, continuing or opening its visitor's
        conversation: what the set-based statements store."""
        return (
            self.workspace_id is not None
            and self.event.kind == "message"
            and self.event.conversation_id is None
        )

    @property
    def key(self) -> Key:
        assert self.workspace_id is not None
        return (self.workspace_id, self.event.channel, self.event.visitor_id)


async def accept_inbound_batch(
    uow: ConversationsUnitOfWork, envelopes: list[Envelope], consumer: str
) -> int:
    """Claim, route and store a batch inside the caller's transaction; the number stored
    (redeliveries and provider retries are not)."""
    fresh = await _claim(uow, envelopes, consumer)
    items = []
    for envelope in envelopes:
        if envelope.event_id in fresh:
            fresh.discard(envelope.event_id)  # once, even if a batch held it twice
            items.append(_Item(envelope, _inbound(envelope)))
    await _route(uow, items)
    stored = 0
    run: list[_Item] = []
    for item in items:
        if item.plain:
            run.append(item)
            continue
        stored += await _store_plain(uow, run)
        run = []
        await accept_routed(uow, item.envelope, item.event, item.workspace_id, item.account_ref)
    return stored + await _store_plain(uow, run)


def _inbound(envelope: Envelope) -> InboundMessageAcceptedV1:
    event = envelope.parsed()
    assert isinstance(event, InboundMessageAcceptedV1)
    return event


async def _claim(
    uow: ConversationsUnitOfWork, envelopes: list[Envelope], consumer: str
) -> set[uuid.UUID]:
    ids = list(dict.fromkeys(e.event_id for e in envelopes))
    types = {e.type for e in envelopes}
    assert len(types) == 1, f"one event type per batch, got {sorted(types)}"
    claimed = await Raw(uow.session).rows(
        _CLAIM, {"consumer": consumer, "event_type": types.pop(), "event_ids": ids}
    )
    fresh = {row[0] for row in claimed}
    if len(fresh) < len(ids):
        log.info("duplicate events skipped", extra={"duplicates": len(ids) - len(fresh)})
    return fresh


async def _route(uow: ConversationsUnitOfWork, items: list[_Item]) -> None:
    """Each item's (workspace, channel account), as `inbound._route` finds it for one."""
    by_account = [i for i in items if i.event.account_id is not None]
    by_workspace = [i for i in items if i.event.account_id is None and i.event.workspace_id]
    if by_account:
        rows = await Raw(uow.session).rows(
            _ROUTE_ACCOUNTS,
            {
                "channels": [i.event.channel for i in by_account],
                "accounts": [i.event.account_id for i in by_account],
            },
        )
        accounts = {(r.channel, r.account_id): (r.workspace_id, r.id) for r in rows}
        for item in by_account:
            found = accounts.get((item.event.channel, item.event.account_id))
            # Both ids given (an integrator's post): they must still agree.
            if found is not None and item.event.workspace_id in (None, found[0]):
                item.workspace_id, item.account_ref = found
    if by_workspace:
        rows = await Raw(uow.session).rows(
            _LIVE_WORKSPACES, {"workspace_ids": list({i.event.workspace_id for i in by_workspace})}
        )
        live = {r.id for r in rows}
        for item in by_workspace:
            if item.event.workspace_id in live:
                item.workspace_id = item.event.workspace_id


async def _store_plain(uow: ConversationsUnitOfWork, items: list[_Item]) -> int:
    if not items:
        return 0
    conversations = await _conversations(uow, items)
    items = _first_of_each_provider_message(items)
    ids = [uuid.uuid4() for _ in items]
    inserted = await Raw(uow.session).rows(
        _MESSAGES,
        {
            "ids": ids,
            "conversation_ids": [conversations[i.key] for i in items],
            "workspace_ids": [i.workspace_id for i in items],
            "contents": [i.event.content for i in items],
            "channels": [i.event.channel for i in items],
            "external_ids": [i.event.external_id for i in items],
            "sent_ats": [i.event.sent_at for i in items],
            "metas": [_json(i.event) for i in items],
        },
    )
    new_ids = {row[0] for row in inserted}
    stored = [(message_id, item) for message_id, item in zip(ids, items, strict=True)]
    stored = [(message_id, item) for message_id, item in stored if message_id in new_ids]
    if not stored:
        return 0
    await _move_counters(uow, conversations, (item for _, item in stored))
    await uow.emit_many(
        [
            (
                MessageReceivedV1(
                    message_id=message_id,
                    conversation_id=conversations[item.key],
                    workspace_id=item.key[0],
                    channel=item.event.channel,
                    role="visitor",
                    content=item.event.content,
                    external_id=item.event.external_id,
                    sent_at=item.event.sent_at,
                ),
                item.envelope,
            )
            for message_id, item in stored
        ]
    )
    for _, item in stored:
        if item.event.channel == "sms":
            # Twilio stops our sends after STOP (21610) until START: mirror it.
            change = opt_out_change(item.event.content)
            if change is not None:
                await uow.conversations.set_opted_out(conversations[item.key], change)
    return len(stored)


async def _conversations(uow: ConversationsUnitOfWork, items: list[_Item]) -> dict[Key, uuid.UUID]:
    """The conversation id of every item's visitor: found in one query, or opened one new
    visitor at a time (the contact rules) and announced by `conversation.started`."""
    keys = list(dict.fromkeys(i.key for i in items))
    rows = await Raw(uow.session).rows(
        _CONVERSATIONS,
        {
            "workspace_ids": [k[0] for k in keys],
            "channels": [k[1] for k in keys],
            "visitor_ids": [k[2] for k in keys],
        },
    )
    found: dict[Key, uuid.UUID] = {(r.workspace_id, r.channel, r.visitor_id): r.id for r in rows}
    opened = False
    for item in items:
        if item.key in found:
            continue
        conversation, created = await conversation_for(
            uow, item.key[0], item.event, item.account_ref
        )
        assert conversation is not None  # only a named conversation can be missing
        if created:
            await emit_started(uow, conversation)
        found[item.key] = conversation.id
        opened = True
    if opened:
        await uow.session.flush()  # a name set on a conversation found in a race
    return found


def _first_of_each_provider_message(items: list[_Item]) -> list[_Item]:
    """A provider retry inside one batch is the same message: keep the first."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for item in items:
        provider_id = (item.event.channel, item.event.external_id)
        if provider_id not in seen:
            seen.add(provider_id)
            kept.append(item)
    return kept


async def _move_counters(
    uow: ConversationsUnitOfWork, conversations: dict[Key, uuid.UUID], items: Iterable[_Item]
) -> None:
    moved: dict[uuid.UUID, list[_Item]] = {}
    for item in items:
        moved.setdefault(conversations[item.key], []).append(item)
    ids = sorted(moved)
    await Raw(uow.session).rows(
        _COUNTERS,
        {
            "ids": ids,
            "counts": [len(moved[c]) for c in ids],
            "firsts": [min(i.event.sent_at for i in moved[c]) for c in ids],
            "lasts": [max(i.event.sent_at for i in moved[c]) for c in ids],
            "names": [_first(i.event.visitor_name for i in moved[c]) for c in ids],
            "accounts": [_first(i.account_ref for i in moved[c]) for c in ids],
        },
    )


def _first(values: Iterable[T | None]) -> T | None:
    return next((v for v in values if v), None)


def _json(event: InboundMessageAcceptedV1) -> str:
    return json.dumps(event.metadata, separators=(",", ":"), default=str)
