"""The delivery consumer (delivery/consumer.py) on the real broker: replies are handled
concurrently (a slow one holds only itself), each acknowledged when done; a reply whose
handling keeps failing is dead-lettered alone by the delivery limit, and a body that is no
envelope at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest

from conversations.delivery.consumer import DeliveryConsumer
from conversations.settings import Settings
from shared.bus import Bus
from shared.events import Envelope, MessageReplyRequestedV1, routing_key
from shared.testing import delete_bus_names, wait_until
from shared.testing import test_names as fresh_names

KEY = routing_key(MessageReplyRequestedV1)


def requested() -> Envelope:
    event = MessageReplyRequestedV1(
        message_id=uuid.uuid4(),
        conversation_id=uuid.uuid4(),
        workspace_id=uuid.uuid4(),
        channel="whatsapp",
        role="owner",
    )
    return Envelope.wrap(event, producer="conversations")


@pytest.fixture
async def buses(settings: Settings) -> AsyncIterator[list[Bus]]:
    names = fresh_names("delivery-consumer")
    own = Settings(
        database_url=settings.database_url,
        rabbitmq_url=settings.rabbitmq_url,
        events_exchange=names["events_exchange"],
        queue_prefix=names["queue_prefix"],
        consumer_delivery_limit=1,
    )
    made: list[Bus] = [Bus(own, "conversations"), Bus(own, "publisher")]
    yield made
    for bus in made:
        await bus.stop()
    queues = [q for bus in made for q in bus.queue_names]
    await delete_bus_names(own.rabbitmq_url, own.events_exchange, queues)


async def _counts(bus: Bus, name: str) -> tuple[int, int]:
    connection = await aio_pika.connect(bus.settings.rabbitmq_url)
    try:
        channel = await connection.channel()
        main = await channel.declare_queue(name, passive=True)
        dlq = await channel.declare_queue(f"{name}.dlq", passive=True)
        return main.declaration_result.message_count, dlq.declaration_result.message_count
    finally:
        await connection.close()


async def _value(awaitable, expected=True):
    return (await awaitable) == expected


async def test_replies_are_handled_at_once_and_a_failing_one_is_dead_lettered_alone(
    buses: list[Bus],
) -> None:
    bus, publisher = buses
    slow, poison = requested(), requested()
    release = asyncio.Event()
    done: list[uuid.UUID] = []
    tries: list[uuid.UUID] = []

    async def handle(envelope: Envelope, parked: int) -> None:
        tries.append(envelope.event_id)
        if envelope.event_id == slow.event_id:
            await release.wait()  # a provider that takes its time
        if envelope.event_id == poison.event_id:
            raise RuntimeError("poison")
        done.append(envelope.event_id)

    queue = bus.consumer_queue(KEY, "delivery")
    consumer = DeliveryConsumer(bus, queue, handle, prefetch=8)
    bus.batch_consumers.append(consumer)
    await bus.start()
    await publisher.start()
    others = [requested() for _ in range(5)]
    for envelope in [slow, poison, *others]:
        await publisher.publish(envelope)
    # Every other reply is done while the slow one still waits for its provider.
    await wait_until(lambda: _value(asyncio.sleep(0, {e.event_id for e in others} <= set(done))))
    assert slow.event_id not in done
    release.set()
    await wait_until(lambda: _value(asyncio.sleep(0, slow.event_id in done)))
    # The poison one was tried again, then dead-lettered; the others were acknowledged once.
    await wait_until(lambda: _value(_counts(bus, consumer.name), (0, 1)), timeout=15)
    assert tries.count(poison.event_id) == 2
    assert sorted(done) == sorted([slow.event_id] + [e.event_id for e in others])


async def test_a_body_that_is_no_envelope_is_dead_lettered_at_once(buses: list[Bus]) -> None:
    bus, publisher = buses
    done: list[uuid.UUID] = []

    async def handle(envelope: Envelope, parked: int) -> None:
        done.append(envelope.event_id)

    queue = bus.consumer_queue(KEY, "delivery")
    consumer = DeliveryConsumer(bus, queue, handle, prefetch=8)
    bus.batch_consumers.append(consumer)
    await bus.start()
    await publisher.start()
    await publisher.broker.publish(
        b"{not json", exchange=publisher.exchange, routing_key=KEY, persist=True
    )
    after = requested()
    await publisher.publish(after)
    await wait_until(lambda: _value(asyncio.sleep(0, after.event_id in done)))
    await wait_until(lambda: _value(_counts(bus, consumer.name), (0, 1)), timeout=10)
