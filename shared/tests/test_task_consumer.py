"""Task consumers (shared.task_consumer) on the real broker: deliveries are handled at once, up
to the prefetch, each acknowledged when its handler returns; a failing one is retried and
dead-lettered alone; a body that is no envelope is dead-lettered at once; a stop finishes
what is in hand."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any

import pytest

from shared.bus import Bus
from shared.events import Envelope, UserCreatedV1
from shared.task_consumer import TaskConsumer, subscribe_tasks
from shared.testing import wait_until

from .support import envelope_for, queue_counts

pytestmark = pytest.mark.usefixtures("clean")


async def tasks_of(bus_factory, name: str, handle) -> tuple[Bus, TaskConsumer, Bus]:
    """A started bus whose consumer `name` handles each message in a task, and a bus to
    publish with."""
    bus = await bus_factory(name, start=False)
    consumer = subscribe_tasks(bus, UserCreatedV1, handle, name)
    await bus.start()
    return bus, consumer, await bus_factory("publisher")


async def test_slow_messages_are_handled_side_by_side_and_each_acknowledged(
    bus_factory, settings
) -> None:
    running, most = 0, 0
    handled: list[uuid.UUID] = []
    release = asyncio.Event()

    async def handle(envelope: Envelope, headers: Mapping[str, Any]) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1
        handled.append(envelope.event_id)

    bus, consumer, publisher = await tasks_of(bus_factory, "tasks", handle)
    assert await bus.consumers_alive()
    sent = [envelope_for() for _ in range(20)]
    await asyncio.gather(*(publisher.publish(e) for e in sent))
    # As many at once as the prefetch allows, none more.
    await wait_until(lambda: running == settings.consumer_prefetch)
    await asyncio.sleep(0.05)
    assert most == settings.consumer_prefetch
    release.set()
    await wait_until(lambda: len(handled) == len(sent), timeout=20)
    assert sorted(handled, key=str) == sorted((e.event_id for e in sent), key=str)
    await wait_until(lambda: queue_counts(settings, consumer.name), timeout=10, expected=(0, 0))


async def test_a_failing_message_is_retried_then_dead_lettered_alone(bus_factory, settings) -> None:
    poison = uuid.uuid4()
    attempts: list[int] = []
    handled: list[uuid.UUID] = []

    async def handle(envelope: Envelope, headers: Mapping[str, Any]) -> None:
        if envelope.parsed().user_id == poison:
            attempts.append(int(headers.get("x-delivery-count") or 0))
            raise RuntimeError("this message can never be handled")
        handled.append(envelope.event_id)

    _bus, consumer, publisher = await tasks_of(bus_factory, "failing", handle)
    good = [envelope_for() for _ in range(5)]
    await asyncio.gather(
        *(publisher.publish(e) for e in [good[0], envelope_for(poison), *good[1:]])
    )
    await wait_until(lambda: queue_counts(settings, consumer.name), timeout=30, expected=(0, 1))
    assert sorted(handled, key=str) == sorted((e.event_id for e in good), key=str)
    # The first delivery and one redelivery per allowed retry, each seeing its count.
    assert attempts == list(range(settings.consumer_delivery_limit + 1))


async def test_a_body_that_is_no_envelope_is_dead_lettered_at_once(bus_factory, settings) -> None:
    handled: list[uuid.UUID] = []

    async def handle(envelope: Envelope, headers: Mapping[str, Any]) -> None:
        handled.append(envelope.event_id)

    _bus, consumer, publisher = await tasks_of(bus_factory, "garbled-tasks", handle)
    await publisher.broker.publish(
        b"{not json", exchange=publisher.exchange, routing_key="user.created.v1", persist=True
    )
    after = envelope_for()
    await publisher.publish(after)
    await wait_until(lambda: after.event_id in handled)
    await wait_until(lambda: queue_counts(settings, consumer.name), timeout=10, expected=(0, 1))


async def test_stop_finishes_what_is_in_hand(bus_factory, settings) -> None:
    """Three messages in hand (the prefetch allows them all): stopping waits for every one of
    them to finish and ack, and leaves nothing behind on the queue."""
    release = asyncio.Event()
    running: list[uuid.UUID] = []
    done: list[uuid.UUID] = []

    async def handle(envelope: Envelope, headers: Mapping[str, Any]) -> None:
        running.append(envelope.event_id)
        await release.wait()
        done.append(envelope.event_id)

    bus, consumer, publisher = await tasks_of(bus_factory, "stopping-tasks", handle)
    sent = [envelope_for() for _ in range(3)]
    await asyncio.gather(*(publisher.publish(e) for e in sent))
    await wait_until(lambda: len(running) == len(sent), timeout=10)
    stopping = asyncio.create_task(bus.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()  # it waits for the messages in hand
    release.set()
    await asyncio.wait_for(stopping, 20)
    assert not await consumer.alive()
    assert sorted(done) == sorted(e.event_id for e in sent)
    assert await queue_counts(settings, consumer.name) == (0, 0)
