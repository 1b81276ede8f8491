"""Batch consumers (shared.batches) on the real broker: what arrives together is handled
together and acknowledged once; a poison message is retried and dead-lettered alone; a body
that is no envelope is dead-lettered at once; a stop hands back nothing it acknowledged."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import pytest

from shared.batches import BatchConsumer
from shared.bus import Bus
from shared.events import Envelope, UserCreatedV1
from shared.testing import wait_until

from .support import envelope_for, queue_counts

pytestmark = pytest.mark.usefixtures("clean")


async def batches_of(
    bus_factory, name: str, handle_batch, handle_one, *, size: int, wait_seconds: float
) -> tuple[Bus, BatchConsumer, Bus]:
    """A started bus whose consumer `name` takes batches, and a bus to publish with."""
    bus = await bus_factory(name, start=False)
    consumer = bus.subscribe_batch(
        UserCreatedV1, handle_batch, handle_one, size=size, wait_seconds=wait_seconds, consumer=name
    )
    await bus.start()
    return bus, consumer, await bus_factory("publisher")


async def test_a_burst_is_handled_in_batches_and_every_message_once(bus_factory, settings) -> None:
    batches: list[list[uuid.UUID]] = []
    alone: list[uuid.UUID] = []

    async def handle_batch(envelopes: list[Envelope]) -> None:
        batches.append([e.event_id for e in envelopes])
        await asyncio.sleep(0.02)  # a transaction's worth of time: the next ones pile up

    async def handle_one(envelope: Envelope) -> None:
        alone.append(envelope.event_id)

    bus, consumer, publisher = await batches_of(
        bus_factory, "batcher", handle_batch, handle_one, size=50, wait_seconds=0.005
    )
    assert await bus.consumers_alive()
    sent = [envelope_for() for _ in range(400)]
    for chunk in range(0, len(sent), 100):
        await asyncio.gather(*(publisher.publish(e) for e in sent[chunk : chunk + 100]))

    await wait_until(lambda: sum(map(len, batches)) >= len(sent), timeout=20)
    handled = [event_id for batch in batches for event_id in batch]
    assert handled == [e.event_id for e in sent]  # each once, in the order published
    assert alone == []
    assert max(map(len, batches)) <= 50
    assert len(batches) <= len(sent) / 5, f"{len(batches)} batches for {len(sent)} messages"
    # Acknowledged: nothing waits in the queue once the batches are done.
    await wait_until(lambda: queue_counts(settings, consumer.name), timeout=10, expected=(0, 0))


async def test_a_poison_message_in_a_batch_is_dead_lettered_alone(bus_factory, settings) -> None:
    poison = uuid.uuid4()
    stored: list[uuid.UUID] = []
    poison_attempts: list[int] = []

    def check(envelope: Envelope) -> None:
        if envelope.parsed().user_id == poison:
            poison_attempts.append(1)
            raise RuntimeError("this message can never be handled")

    async def handle_batch(envelopes: list[Envelope]) -> None:
        for envelope in envelopes:  # all or nothing, like a transaction
            check(envelope)
        stored.extend(e.event_id for e in envelopes)

    async def handle_one(envelope: Envelope) -> None:
        check(envelope)
        stored.append(envelope.event_id)

    _bus, consumer, publisher = await batches_of(
        bus_factory, "poisoned", handle_batch, handle_one, size=20, wait_seconds=0.05
    )
    good = [envelope_for() for _ in range(20)]
    bad = envelope_for(poison)
    await asyncio.gather(*(publisher.publish(e) for e in [*good[:10], bad, *good[10:]]))

    connection = await aio_pika.connect(settings.rabbitmq_url)
    try:
        channel = await connection.channel()
        dlq = await channel.get_queue(f"{consumer.name}.dlq", ensure=True)
        dead = await wait_until(lambda: dlq.get(no_ack=True, fail=False), timeout=20)
    finally:
        await connection.close()
    assert Envelope.model_validate_json(dead.body).event_id == bad.event_id
    assert dead.headers["x-death"][0]["reason"] == "delivery_limit"
    assert sorted(stored, key=str) == sorted((e.event_id for e in good), key=str)
    assert len(stored) == len(set(stored))
    # Its batch failed once, then it alone: first delivery plus `limit` redeliveries.
    assert len(poison_attempts) >= settings.consumer_delivery_limit + 1
    # The consumer goes on.
    later = envelope_for()
    await publisher.publish(later)
    await wait_until(lambda: later.event_id in stored)


async def test_a_body_that_is_no_envelope_is_dead_lettered_at_once(bus_factory, settings) -> None:
    seen: list[uuid.UUID] = []

    async def handle_batch(envelopes: list[Envelope]) -> None:
        seen.extend(e.event_id for e in envelopes)

    _bus, consumer, publisher = await batches_of(
        bus_factory, "garbled", handle_batch, handle_batch, size=10, wait_seconds=0.01
    )
    await publisher.broker.publish(
        b"{not json", exchange=publisher.exchange, routing_key="user.created.v1", persist=True
    )
    after = envelope_for()
    await publisher.publish(after)
    await wait_until(lambda: after.event_id in seen)
    await wait_until(lambda: queue_counts(settings, consumer.name), timeout=10, expected=(0, 1))


async def test_stop_finishes_the_batch_in_hand_and_acknowledges_it(bus_factory, settings) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    done: list[uuid.UUID] = []

    async def handle_batch(envelopes: list[Envelope]) -> None:
        started.set()
        await release.wait()
        done.extend(e.event_id for e in envelopes)

    bus, consumer, publisher = await batches_of(
        bus_factory, "stopping", handle_batch, handle_batch, size=10, wait_seconds=0.05
    )
    sent = [envelope_for() for _ in range(5)]
    await asyncio.gather(*(publisher.publish(e) for e in sent))
    await asyncio.wait_for(started.wait(), 10)
    stopping = asyncio.create_task(bus.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()  # it waits for the batch in hand
    release.set()
    await asyncio.wait_for(stopping, 20)
    assert not await consumer.alive()
    assert done  # what it had started was finished; what it had not is back in the queue
    main, dead = await queue_counts(settings, consumer.name)
    assert (main + len(done), dead) == (len(sent), 0)
