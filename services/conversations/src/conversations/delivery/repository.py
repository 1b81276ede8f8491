"""The delivery's statements: claim, record, sweep, early receipts.

Each state change is a conditional UPDATE on the row's current state, so two consumers
holding the same reply can never both move it: only the one whose UPDATE matched goes on.
"""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from conversations.db.models import ChannelAccount, EarlyReceipt, Message
from shared.db.raw import Prepared, Raw


@dataclass(frozen=True, slots=True)
class Moved:
    """A row whose state changed: what the `message.delivery_updated` event carries."""

    message_id: uuid.UUID
    conversation_id: uuid.UUID
    workspace_id: uuid.UUID
    channel: str
    delivery_status: str
    delivery_error: str | None
    updated_at: datetime


_RETURNING = (
    Message.id,
    Message.conversation_id,
    Message.workspace_id,
    Message.channel,
    Message.delivery_status,
    Message.delivery_error,
    Message.delivery_updated_at,
)


# Built once, run with parameters, each for a whole batch of replies (delivery/coalesce.py).

# For each reply asked about: the pending replies of its conversation up to and including it,
# in order (an earlier part of a split reply always leaves first), with what sending needs.
_PLAN = Prepared(
    text(
        "SELECT t.n, m.id, m.channel, c.id AS conversation_id, c.workspace_id, "
        "  c.visitor_id, c.opted_out_at, c.channel_account_id, "
        "  a.id AS account_ref, a.account_id, a.credentials_encrypted "
        "FROM unnest(CAST(:ids AS uuid[])) WITH ORDINALITY AS t(id, n) "
        "JOIN conversations.messages tm ON tm.id = t.id "
        "JOIN conversations.conversations c ON c.id = tm.conversation_id "
        "LEFT JOIN conversations.channel_accounts a ON a.id = c.channel_account_id "
        "CROSS JOIN LATERAL (SELECT m.id, m.channel, m.sent_at FROM conversations.messages m "
        "  WHERE m.conversation_id = tm.conversation_id AND m.delivery_status = 'pending' "
        "    AND (m.sent_at, m.id) <= (tm.sent_at, tm.id) "
        "  ORDER BY m.sent_at, m.id LIMIT 50) m "
        "ORDER BY t.n, m.sent_at, m.id"
    )
)
_ONLY_ACCOUNT = (
    select(ChannelAccount.id, ChannelAccount.account_id, ChannelAccount.credentials_encrypted)
    .where(
        ChannelAccount.workspace_id == bindparam("workspace_id"),
        ChannelAccount.channel == bindparam("channel"),
    )
    .limit(2)
)
# State changes of many rows. Every status change takes its workspace's row at commit (the
# live trigger, migration 0004): two batches spanning the same workspaces in another order
# would deadlock there, so the workspaces are locked first, in id order, then the messages.
_LOCK_WORKSPACES = (
    "ws AS (SELECT w.id FROM conversations.workspaces w WHERE w.id IN "
    "  (SELECT m.workspace_id FROM conversations.messages m "
    "   WHERE m.id = ANY(CAST(:ids AS uuid[]))) ORDER BY w.id FOR NO KEY UPDATE)"
)
_CLAIM = Prepared(
    text(
        f"WITH {_LOCK_WORKSPACES}, "  # noqa: S608 - constants, no input
        "locked AS (SELECT m.id FROM conversations.messages m "
        "  WHERE m.id = ANY(CAST(:ids AS uuid[])) AND m.delivery_status = 'pending' "
        "    AND (SELECT count(*) FROM ws) >= 0 "
        "  ORDER BY m.id FOR NO KEY UPDATE) "
        "UPDATE conversations.messages m SET delivery_status = 'sending', delivery_error = NULL, "
        "  delivery_updated_at = now() "
        "WHERE m.id IN (SELECT id FROM locked) "
        "RETURNING m.id, m.role, m.content, m.metadata"
    )
)
# The outcomes, and the receipts that came for them before they were recorded (providers
# can call back before our commit; receipts.py keeps those), taken in the same statement.
_RECORD = Prepared(
    text(
        "WITH d AS"  # noqa: S608 - constants, no input
        " (SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:froms AS text[]), "
        "  CAST(:tos AS text[]), CAST(:errors AS text[]), CAST(:externals AS text[])) "
        "  AS d(id, froms, to_status, error, external_id)), "
        f"{_LOCK_WORKSPACES}, "
        "locked AS (SELECT m.id FROM conversations.messages m JOIN d ON d.id = m.id "
        "  WHERE m.delivery_status = ANY(string_to_array(d.froms, ',')) "
        "    AND (SELECT count(*) FROM ws) >= 0 "
        "  ORDER BY m.id FOR NO KEY UPDATE OF m), "
        "moved AS (UPDATE conversations.messages m SET delivery_status = d.to_status, "
        "  delivery_error = d.error, external_id = coalesce(d.external_id, m.external_id), "
        "  delivery_updated_at = now() "
        "  FROM d WHERE m.id = d.id AND m.id IN (SELECT id FROM locked) "
        "  RETURNING m.id, m.conversation_id, m.workspace_id, m.channel, m.delivery_status, "
        "    m.delivery_error, m.delivery_updated_at, d.external_id AS new_external_id), "
        "taken AS (DELETE FROM conversations.early_receipts e USING moved "
        "  WHERE e.channel = moved.channel AND e.external_id = moved.new_external_id "
        "  RETURNING moved.id AS message_id, e.status, e.error, e.occurred_at) "
        "SELECT moved.id, moved.conversation_id, moved.workspace_id, moved.channel, "
        "  moved.delivery_status, moved.delivery_error, moved.delivery_updated_at, "
        "  (SELECT json_agg(json_build_object('status', t.status, 'error', t.error) "
        "     ORDER BY t.occurred_at) FROM taken t WHERE t.message_id = moved.id) AS early "
        "FROM moved"
    )
)
_OPT_OUT = text(
    "WITH locked AS (SELECT c.id FROM conversations.conversations c "
    "  WHERE c.id = ANY(CAST(:ids AS uuid[])) AND c.opted_out_at IS NULL "
    "  ORDER BY c.id FOR NO KEY UPDATE) "
    "UPDATE conversations.conversations c SET opted_out_at = now() "
    "WHERE c.id IN (SELECT id FROM locked)"
)


@dataclass(frozen=True, slots=True)
class Account:
    id: uuid.UUID
    account_id: str
    credentials_encrypted: str | None


@dataclass(frozen=True, slots=True)
class DueReply:
    """A pending reply and what sending it needs, as read before it is claimed."""

    message_id: uuid.UUID
    channel: str
    conversation_id: uuid.UUID
    workspace_id: uuid.UUID
    visitor_id: str
    opted_out: bool
    conversation_account: uuid.UUID | None  # the account the visitor wrote to, if known
    account: Account | None  # the one to answer on (the workspace's only one, if not known)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A reply this consumer moved `pending -> sending`: it, and only it, sends it."""

    message_id: uuid.UUID
    role: str
    content: str
    meta: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Record:
    """An outcome to record: the row moves `from_states -> to` if it is still in one."""

    message_id: uuid.UUID
    from_states: tuple[str, ...]
    to: str
    error: str | None = None
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class TakenReceipt:
    """A receipt kept before its reply was recorded, now applied to it."""

    status: str
    error: str | None


@dataclass(frozen=True, slots=True)
class Recorded:
    moved: Moved
    early: list[TakenReceipt]  # oldest first


@functools.cache
def _move(from_states: tuple[str, ...], with_external_id: bool) -> Any:
    """A state change, built once per kind: building it per reply (coercing the IN list and
    the values, computing its cache key) was 3 % of a reply's CPU."""
    values: dict[str, Any] = {
        "delivery_status": bindparam("to"),
        "delivery_error": bindparam("error"),
        "delivery_updated_at": func.now(),
    }
    if with_external_id:
        values["external_id"] = bindparam("external")
    return (
        update(Message)
        .where(Message.id == bindparam("message_id"), Message.delivery_status.in_(from_states))
        .values(**values)
        .returning(*_RETURNING)
        .execution_options(synchronize_session=False)
    )


def _moved(row: Any) -> Moved:
    return Moved(*row)


def _receipts(early: Any) -> list[TakenReceipt]:
    if early is None:
        return []
    items = json.loads(early) if isinstance(early, str) else early
    return [TakenReceipt(item["status"], item["error"]) for item in items]


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def plan(self, message_ids: list[uuid.UUID]) -> list[list[DueReply]]:
        """For each reply asked about, the pending replies of its conversation up to and
        including it, in order; [] when none is (sent, being sent, or deleted)."""
        rows = await Raw(self.session).rows(_PLAN, {"ids": message_ids})
        found: dict[int, list[DueReply]] = {}  # by position asked (an id may come twice)
        only: dict[tuple[uuid.UUID, str], Account | None] = {}
        for r in rows:
            account = (
                Account(r.account_ref, r.account_id, r.credentials_encrypted)
                if r.account_ref is not None
                else None
            )
            if account is None and r.channel != "web":
                key = (r.workspace_id, r.channel)
                if key not in only:
                    only[key] = await self._only_account(*key)
                account = only[key]
            found.setdefault(r.n, []).append(
                DueReply(
                    message_id=r.id,
                    channel=r.channel,
                    conversation_id=r.conversation_id,
                    workspace_id=r.workspace_id,
                    visitor_id=r.visitor_id,
                    opted_out=r.opted_out_at is not None,
                    conversation_account=r.channel_account_id,
                    account=account,
                )
            )
        return [found.get(n, []) for n in range(1, len(message_ids) + 1)]

    async def _only_account(self, workspace_id: uuid.UUID, channel: str) -> Account | None:
        """Conversations recorded by hand (or older than account routing): the workspace's
        only account of that channel, if it has exactly one."""
        rows = list(
            await self.session.execute(
                _ONLY_ACCOUNT, {"workspace_id": workspace_id, "channel": channel}
            )
        )
        return Account(*rows[0]) if len(rows) == 1 else None

    async def claim(self, message_ids: list[uuid.UUID]) -> list[Claimed | None]:
        """`pending -> sending` for each reply still pending; None for the others. A reply
        asked for twice is claimed by the first asking only."""
        unique = list(dict.fromkeys(message_ids))
        rows = await Raw(self.session).rows(_CLAIM, {"ids": unique})
        claimed = {r.id: Claimed(r.id, r.role, r.content, r.metadata or {}) for r in rows}
        return [claimed.pop(message_id, None) for message_id in message_ids]

    async def record(self, records: list[Record]) -> list[Recorded | None]:
        """Each outcome, for the rows still in one of its `from_states`; None for the others.
        A row recorded twice in one batch moves once, for the first. With a provider id, the
        receipts kept for it are taken along."""
        first: dict[uuid.UUID, Record] = {}
        for r in records:
            first.setdefault(r.message_id, r)
        todo = list(first.values())
        rows = await Raw(self.session).rows(
            _RECORD,
            {
                "ids": [r.message_id for r in todo],
                "froms": [",".join(r.from_states) for r in todo],
                "tos": [r.to for r in todo],
                "errors": [r.error for r in todo],
                "externals": [r.external_id for r in todo],
            },
        )
        recorded = {row[0]: Recorded(Moved(*tuple(row)[:7]), _receipts(row.early)) for row in rows}
        return [
            recorded.pop(r.message_id, None) if first.get(r.message_id) is r else None
            for r in records
        ]

    async def move(
        self,
        message_id: uuid.UUID,
        *,
        from_states: tuple[str, ...],
        to: str,
        error: str | None = None,
        external_id: str | None = None,
    ) -> Moved | None:
        params = {"message_id": message_id, "to": to, "error": error, "external": external_id}
        statement = _move(tuple(from_states), external_id is not None)
        row = (await self.session.execute(statement, params)).first()
        return _moved(row) if row is not None else None

    async def sweep_stale(self, older_than: datetime, reason: str) -> list[Moved]:
        rows = await self.session.execute(
            update(Message)
            .where(Message.delivery_status == "sending", Message.delivery_updated_at < older_than)
            .values(
                delivery_status="unknown", delivery_error=reason, delivery_updated_at=func.now()
            )
            .returning(*_RETURNING)
            .execution_options(synchronize_session=False)
        )
        return [_moved(r) for r in rows]

    async def opt_out(self, conversation_ids: list[uuid.UUID]) -> None:
        """The provider says these recipients opted out (Twilio 21610): no more sends."""
        await self.session.execute(_OPT_OUT, {"ids": conversation_ids})

    # -- receipts that came before the send was recorded ---------------------------------

    async def keep_early_receipt(
        self, channel: str, external_id: str, status: str, error: str | None, at: datetime
    ) -> None:
        self.session.add(
            EarlyReceipt(
                channel=channel, external_id=external_id, status=status, error=error, occurred_at=at
            )
        )

    async def forget_early_receipts(self, older_than: datetime) -> None:
        """Receipts for messages sent outside the platform never find their message."""
        await self.session.execute(
            delete(EarlyReceipt).where(EarlyReceipt.received_at < older_than)
        )

    async def watermark(
        self,
        conversation_id: uuid.UUID,
        status: str,
        before: datetime,
        below: tuple[str, ...],
    ) -> list[Moved]:
        """Messenger/Instagram: every outbound message of the conversation sent before the
        watermark and still below `status` moves to it."""
        rows = await self.session.execute(
            update(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.role.in_(("owner", "agent")),
                Message.sent_at <= before,
                Message.delivery_status.in_(below),
            )
            .values(delivery_status=status, delivery_updated_at=func.now())
            .returning(*_RETURNING)
            .execution_options(synchronize_session=False)
        )
        return [_moved(r) for r in rows]
