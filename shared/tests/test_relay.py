"""The outbox relay against the real Postgres and RabbitMQ."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aio_pika
import pytest
from sqlalchemy import func, select

from shared.db import UnitOfWork, make_sessionmaker
from shared.events import Event, UserCreatedV1, WorkspaceUpdatedV1
from shared.relay import OutboxRelay
from shared.testing import wait_until

from .conftest import outbox

pytestmark = pytest.mark.usefixtures("clean")


async def emit(engine, events: list[Event]) -> None:
    uow = UnitOfWork(make_sessionmaker(engine), outbox, producer="relaytest")
    async with uow:
        for event in events:
            await uow.emit(event)
        await uow.commit()


@asynccontextmanager
async def collector(settings, key: str = "#") -> AsyncIterator[list[aio_pika.IncomingMessage]]:
    """A durable queue bound to the test exchange; survives a broker restart."""
    received: list[aio_pika.IncomingMessage] = []
    connection = await aio_pika.connect_robust(settings.rabbitmq_url, reconnect_interval=1)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        settings.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    name = f"{settings.queue_prefix}collector"
    queue = await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
    await queue.bind(exchange, routing_key=key)

    async def on_message(message: aio_pika.IncomingMessage) -> None:
        received.append(message)
        await message.ack()

    await queue.consume(on_message)
    try:
        yield received
    finally:
        await queue.delete(if_unused=False, if_empty=False)
        await connection.close()


def bodies(messages: list[aio_pika.IncomingMessage]) -> list[dict]:
    return [json.loads(m.body) for m in messages]


async def unpublished(engine) -> int:
    async with engine.connect() as conn:
        return int(
            await conn.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
        )


async def test_relay_publishes_persistent_messages_keyed_by_event_id(
    engine, settings, bus_factory
) -> None:
    bus = await bus_factory()
    relay = OutboxRelay(engine, outbox, bus, poll_seconds=0.2)
    event = UserCreatedV1(user_id=uuid.uuid4(), email="a@example.com")
    async with collector(settings) as received:
        await emit(engine, [event])
        relay.start()
        try:
            await wait_until(lambda: received)
        finally:
            await relay.stop()
    message = received[0]
    envelope = json.loads(message.body)
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.message_id == envelope["event_id"]
    assert message.routing_key == "user.created.v1"
    assert message.headers["event_type"] == "user.created"
    assert envelope["payload"]["email"] == "a@example.com"
    assert await unpublished(engine) == 0


async def test_notify_wakes_an_idle_relay_long_before_its_poll(
    engine, settings, bus_factory
) -> None:
    bus = await bus_factory()
    relay = OutboxRelay(engine, outbox, bus, poll_seconds=60)
    async with collector(settings) as received:
        relay.start()
        try:
            await wait_until(lambda: relay._listener is not None)
            await asyncio.sleep(0.2)  # let the relay reach its idle wait
            started = time.monotonic()
            await emit(engine, [UserCreatedV1(user_id=uuid.uuid4(), email="b@example.com")])
            await wait_until(lambda: received, timeout=10)
            elapsed = time.monotonic() - started
        finally:
            await relay.stop()
    # The poll interval is 60 s: only the NOTIFY can explain an arrival this early.
    assert elapsed < 5, elapsed


async def test_concurrent_relays_publish_each_event_once_in_aggregate_order(
    engine, settings, bus_factory
) -> None:
    aggregates = [uuid.uuid4() for _ in range(10)]
    per_aggregate = 30
    async with collector(settings) as received:
        # Interleave aggregates across many small transactions.
        for seq in range(per_aggregate):
            await emit(
                engine,
                [
                    WorkspaceUpdatedV1(
                        workspace_id=ws,
                        owner_id=ws,
                        handle=f"h-{seq}",
                        name=str(seq),
                        tone="friendly",
                        timezone="UTC",
                    )
                    for ws in aggregates
                ],
            )
        relays = [
            OutboxRelay(engine, outbox, await bus_factory(), batch_size=15, poll_seconds=0.1)
            for _ in range(4)
        ]
        for relay in relays:
            relay.start()
        try:
            total = len(aggregates) * per_aggregate
            await wait_until(lambda: len(received) >= total, timeout=30)
            await asyncio.sleep(0.5)  # anything extra (a duplicate) would arrive now
        finally:
            for relay in relays:
                await relay.stop()
    envelopes = bodies(received)
    ids = [e["event_id"] for e in envelopes]
    assert len(ids) == total
    assert len(set(ids)) == total, "an event was published twice"
    for ws in aggregates:
        sequence = [int(e["payload"]["name"]) for e in envelopes if e["aggregate_id"] == str(ws)]
        assert sequence == list(range(per_aggregate)), f"order broken for {ws}"


async def test_relay_keeps_events_it_cannot_publish(engine, settings, bus_factory):
    """A publish that fails leaves the row unpublished with the error; nothing is marked sent."""
    bus = await bus_factory()
    relay = OutboxRelay(engine, outbox, bus)
    await bus.stop()  # no connection: every publish now fails
    await emit(engine, [UserCreatedV1(user_id=uuid.uuid4(), email="c@example.com")])
    published, failed = await relay.relay_once()
    assert (published, failed) == (0, 1)
    assert await unpublished(engine) == 1
    async with engine.connect() as conn:
        row = (await conn.execute(select(outbox.c.attempts, outbox.c.last_error))).one()
    assert row.attempts == 1
    assert row.last_error


async def test_a_publish_refused_in_a_batch_puts_back_that_row_alone(engine, settings, bus_factory):
    """The batch is claimed and marked in one statement; the row whose publish was refused is
    unpublished again with its error, and goes out in the next batch."""
    bus = await bus_factory()
    relay = OutboxRelay(engine, outbox, bus)
    publish = bus.stored.publish
    refused: list[str] = []

    async def refusing_the_second(events):
        results = await publish(events)
        if not refused:
            refused.append(events[1].event_id)
            results[1] = RuntimeError("nacked")
        return results

    bus.stored.publish = refusing_the_second
    users = [UserCreatedV1(user_id=uuid.uuid4(), email=f"u{i}@example.com") for i in range(3)]
    await emit(engine, users)
    assert await relay.relay_once() == (2, 1)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    outbox.c.event_id,
                    outbox.c.published_at.is_not(None).label("published"),
                    outbox.c.attempts,
                    outbox.c.last_error,
                ).order_by(outbox.c.id)
            )
        ).all()
    assert [(r.published, r.attempts) for r in rows[-3:]] == [(True, 1), (False, 1), (True, 1)]
    assert str(rows[-2].event_id) == refused[0] and "nacked" in rows[-2].last_error
    assert await relay.relay_once() == (1, 0)
    assert await unpublished(engine) == 0
