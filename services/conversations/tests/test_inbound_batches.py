"""Inbound messages in batches (usecases/inbound_batch.py) on the real database and broker:
a batch stores exactly what one-at-a-time stores, with the same few statements whatever its
size; it is delivered again after its commit without doubling anything; a burst on the bus is
stored in few transactions, each message once, in order per conversation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import event

from conversations.db.models import inbox
from conversations.db.uow import ConversationsUnitOfWork
from conversations.events.subscribers import CONSUMER
from conversations.usecases.inbound import accept_inbound_message
from conversations.usecases.inbound_batch import accept_inbound_batch
from shared.db.inbox import idempotent
from shared.events import Envelope, InboundMessageAcceptedV1
from shared.testing import wait_until

from .test_inbound_consumer import connect_account

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def wrap(event: InboundMessageAcceptedV1) -> Envelope:
    return Envelope.wrap(event, producer="gateway")


def whatsapp(account: str, tag: str, n: int, visitor: str, at: timedelta) -> Envelope:
    """Message `n` of a WhatsApp visitor of `account`, its provider id tagged, sent T0 + at."""
    return wrap(
        InboundMessageAcceptedV1(
            channel="whatsapp",
            account_id=account,
            visitor_id=visitor,
            external_id=f"{tag}.{n}",
            content=f"m{n}",
            sent_at=T0 + at,
        )
    )


async def store_batch(app, envelopes: list[Envelope], statements: list[str] | None = None) -> int:
    """One batch in one transaction; `statements` collects what its connection ran."""
    async with ConversationsUnitOfWork(app.state.runtime.sessionmaker) as uow:
        connection = (await uow.session.connection()).sync_connection
        assert connection is not None

        def count(conn, cursor, statement, parameters, context, executemany) -> None:
            if statements is not None:
                statements.append(statement.split()[0])

        event.listen(connection, "before_cursor_execute", count)
        try:
            stored = await accept_inbound_batch(uow, envelopes, CONSUMER)
            await uow.commit()
        finally:
            event.remove(connection, "before_cursor_execute", count)
    return stored


async def store_one_at_a_time(app, envelopes: list[Envelope]) -> None:
    def uow() -> ConversationsUnitOfWork:
        return ConversationsUnitOfWork(app.state.runtime.sessionmaker)

    handle = idempotent(uow, inbox, CONSUMER, accept_inbound_message)
    for envelope in envelopes:
        await handle(envelope)


def script(tag: str, workspace_id: UUID, account: str) -> tuple[list, list]:
    """What visitors of one business send: (before, batch). Provider ids carry `tag`."""

    def msg(visitor: str, content: str, minutes: int, **fields: Any) -> InboundMessageAcceptedV1:
        values: dict[str, Any] = {
            "channel": "whatsapp",
            "account_id": account,
            "visitor_id": visitor,
            "external_id": f"{tag}.{visitor}.{minutes}",
            "content": content,
            "sent_at": T0 + timedelta(minutes=minutes),
        } | fields
        return InboundMessageAcceptedV1(**values)

    before = [wrap(msg("old", "first time", 0))]
    first = msg("n1", "hola", 10)
    second = wrap(msg("n1", "¿tenéis hora mañana?", 11, visitor_name="Nina"))
    sms = {"channel": "sms", "account_id": None, "workspace_id": workspace_id}
    batch = [
        wrap(first),
        wrap(msg("old", "me again", 12)),  # reopens the resolved conversation
        second,  # the name comes with a later message
        wrap(first),  # the provider's retry of the first: a new envelope
        second,  # the same envelope redelivered
        wrap(msg("n2", "hi", 13, account_id=f"{account}-unknown")),  # no such account
        wrap(msg("+34600111222", "STOP", 14, **sms)),  # SMS opt-out
        wrap(msg("n2", "price of a haircut?", 15)),
        wrap(msg("n1", "a las 5?", 16)),
        wrap(msg("n3", "", 17, kind="status", external_id=f"{tag}.nothing", status="read")),
        wrap(msg("n1", "gracias", 9)),  # written earlier, delivered last
    ]
    return before, batch


async def snapshot(query, workspace_id: UUID, tag: str) -> dict[str, Any]:
    conversations = await query(
        "SELECT id, visitor_id, channel, status, message_count, visitor_name, "
        "opted_out_at IS NOT NULL AS opted_out, channel_account_id IS NOT NULL AS has_account, "
        "started_at, last_message_at, last_activity_at, contact_id IS NOT NULL AS has_contact "
        "FROM conversations.conversations WHERE workspace_id = :ws ORDER BY visitor_id",
        ws=workspace_id,
    )
    messages = await query(
        "SELECT c.visitor_id, m.role, m.content, replace(m.external_id, :tag, '') AS ext, "
        "m.sent_at FROM conversations.messages m JOIN conversations.conversations c "
        "ON c.id = m.conversation_id WHERE m.workspace_id = :ws ORDER BY m.sent_at, m.id",
        ws=workspace_id,
        tag=tag,
    )
    events = {}
    for c in conversations:
        rows = await query(
            "SELECT event_type, envelope->'payload'->>'content' AS content "
            "FROM conversations.outbox WHERE aggregate_id = :id ORDER BY id",
            id=str(c.id),
        )
        events[c.visitor_id] = [(r.event_type, r.content) for r in rows]
    return {
        "conversations": [tuple(c)[1:] for c in conversations],
        "messages": [tuple(m) for m in messages],
        "events": events,
    }


async def business(client, new_owner) -> tuple[Any, str, str]:
    owner = await new_owner()
    account, tag = f"pn-{uuid4().hex}", uuid4().hex[:8]
    await connect_account(client, owner, "whatsapp", account)
    return owner, account, tag


async def test_a_batch_stores_what_one_at_a_time_stores(
    app, client, new_owner, execute, query
) -> None:
    snapshots = []
    for store in (store_batch, store_one_at_a_time):
        owner, account, tag = await business(client, new_owner)
        before, batch = script(tag, owner.workspace_id, account)
        await store_one_at_a_time(app, before)
        await execute(
            "UPDATE conversations.conversations SET status = 'resolved' WHERE workspace_id = :ws",
            ws=owner.workspace_id,
        )
        await store(app, batch)
        unrouted = await query(
            "SELECT reason FROM conversations.unrouted_messages WHERE account_id = :a",
            a=f"{account}-unknown",
        )
        assert [r.reason for r in unrouted] == ["unknown_account"]
        snapshots.append(await snapshot(query, owner.workspace_id, tag))
    batched, alone = snapshots
    assert batched == alone
    # And what that is: four conversations, the resolved one open again, the name filled
    # in, the SMS visitor opted out, the retries stored once, the late message in its place.
    by_visitor = {c[0]: c for c in batched["conversations"]}
    assert set(by_visitor) == {"+34600111222", "n1", "n2", "old"}
    assert by_visitor["old"][2:4] == ("open", 2)
    assert by_visitor["n1"][3:5] == (4, "Nina")
    assert by_visitor["+34600111222"][5] is True
    n1 = [m[2] for m in batched["messages"] if m[0] == "n1"]
    assert n1 == ["gracias", "hola", "¿tenéis hora mañana?", "a las 5?"]
    assert batched["events"]["n1"][0] == ("conversation.started", None)
    assert [c for _, c in batched["events"]["n1"][1:]] == [
        "hola",
        "¿tenéis hora mañana?",
        "a las 5?",
        "gracias",
    ]


async def test_statements_per_batch_do_not_grow_with_its_size(
    app, client, new_owner, execute, query
) -> None:
    owner, account, tag = await business(client, new_owner)
    visitors = [f"3460{n:07d}" for n in range(10)]

    def messages(count: int, start: int) -> list[Envelope]:
        return [
            whatsapp(account, tag, start + n, visitors[n % 10], timedelta(seconds=start + n))
            for n in range(count)
        ]

    assert await store_batch(app, messages(10, 0)) == 10  # opens the ten conversations
    counts = {}
    for size, start in ((10, 100), (100, 1000), (500, 10_000)):
        statements: list[str] = []
        assert await store_batch(app, messages(size, start), statements) == size
        counts[size] = statements
    assert counts[10] == counts[100] == counts[500], counts
    # claim, route, conversations, messages, counters, outbox
    assert len(counts[10]) == 6, counts[10]
    rows = await query(
        "SELECT sum(message_count) AS n FROM conversations.conversations WHERE workspace_id = :ws",
        ws=owner.workspace_id,
    )
    assert rows[0].n == 10 + 10 + 100 + 500


async def test_a_batch_delivered_again_after_its_commit_changes_nothing(
    app, client, new_owner, execute, query
) -> None:
    """The consumer killed between commit and ack: the broker delivers the batch again,
    perhaps with new messages behind it. The inbox skips what was stored."""
    owner, account, tag = await business(client, new_owner)

    def message(n: int) -> Envelope:
        return whatsapp(account, tag, n, f"v{n % 3}", timedelta(seconds=n))

    first = [message(n) for n in range(30)]
    assert await store_batch(app, first) == 30
    before = await snapshot(query, owner.workspace_id, tag)
    assert await store_batch(app, first) == 0
    assert await snapshot(query, owner.workspace_id, tag) == before
    later = [message(n) for n in range(30, 40)]
    assert await store_batch(app, first[20:] + later) == 10
    after = await snapshot(query, owner.workspace_id, tag)
    assert sum(c[3] for c in after["conversations"]) == 40
    assert sum(len(e) for e in after["events"].values()) == 40 + 3  # + conversation.started


async def test_a_burst_on_the_bus_is_stored_in_few_transactions_each_message_once(
    client, bus, new_owner, execute, query, app
) -> None:
    owner, account, tag = await business(client, new_owner)
    envelopes = [
        whatsapp(account, tag, n, f"b{n % 40}", timedelta(milliseconds=n)) for n in range(600)
    ]
    sent = [e.parsed() for e in envelopes]
    for chunk in range(0, len(envelopes), 150):
        await asyncio.gather(*(bus.publish(e, mandatory=True) for e in envelopes[chunk:][:150]))
    await bus.publish(envelopes[5], mandatory=True)  # a redelivery among them

    async def all_stored() -> list[Any] | None:
        rows = await query(
            "SELECT count(*) AS n, count(DISTINCT created_at) AS transactions "
            "FROM conversations.messages WHERE workspace_id = :ws",
            ws=owner.workspace_id,
        )
        return rows if rows[0].n == len(sent) else None

    [totals] = await wait_until(all_stored, timeout=60)
    # now() is the transaction's start: distinct values count transactions.
    assert totals.transactions <= len(sent) / 5, totals
    conversations = await query(
        "SELECT message_count FROM conversations.conversations WHERE workspace_id = :ws",
        ws=owner.workspace_id,
    )
    assert sorted(c.message_count for c in conversations) == [15] * 40
    for visitor in ("b0", "b17", "b39"):
        rows = await query(
            "SELECT m.content FROM conversations.messages m JOIN conversations.conversations c "
            "ON c.id = m.conversation_id WHERE c.workspace_id = :ws AND c.visitor_id = :v "
            "ORDER BY m.sent_at",
            ws=owner.workspace_id,
            v=visitor,
        )
        expected = [e.content for e in sent if e.visitor_id == visitor]
        assert [r.content for r in rows] == expected
        received = await query(
            "SELECT o.envelope->'payload'->>'content' AS content FROM conversations.outbox o "
            "JOIN conversations.conversations c ON o.aggregate_id = c.id::text "
            "WHERE c.workspace_id = :ws AND c.visitor_id = :v "
            "AND o.event_type = 'message.received' ORDER BY o.id",
            ws=owner.workspace_id,
            v=visitor,
        )
        assert [r.content for r in received] == expected  # announced in delivery order
