"""Idempotent consumers, crash before ack, and dead-lettering on the real broker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import aio_pika
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text

from shared.db import make_sessionmaker
from shared.events import Envelope, UserCreatedV1
from shared.testing import wait_until

from .conftest import SCHEMA, inbox
from .effects import counting_handler
from .support import envelope_for

pytestmark = pytest.mark.usefixtures("clean")


async def counter(engine, name: str) -> int:
    async with engine.connect() as conn:
        value = await conn.scalar(
            text(f'SELECT value FROM "{SCHEMA}".counters WHERE name = :n'), {"n": name}
        )
    return int(value or 0)


async def inbox_rows(engine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(inbox)))


async def test_redelivered_event_changes_nothing(engine, bus_factory) -> None:
    calls: list[str] = []
    handler = counting_handler(make_sessionmaker(engine), "dedupe")

    async def recording(envelope: Envelope) -> None:
        calls.append(str(envelope.event_id))
        await handler(envelope)

    bus = await bus_factory(start=False)
    bus.subscribe(UserCreatedV1, recording, consumer="dedupe")
    await bus.start()
    envelope = envelope_for(uuid.uuid4())
    await bus.publish(envelope)
    await bus.publish(envelope)  # the same event again, as a redelivery would bring it
    await wait_until(lambda: len(calls) == 2)
    assert await counter(engine, envelope.aggregate_id) == 1
    assert await inbox_rows(engine) == 1


async def test_consumer_crash_after_commit_before_ack_is_redelivered_without_doubling(
    engine, settings, bus_factory
) -> None:
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "RABBITMQ_URL": settings.rabbitmq_url,
        "EVENTS_EXCHANGE": settings.events_exchange,
        "QUEUE_PREFIX": settings.queue_prefix,
        "CONSUMER_DELIVERY_LIMIT": str(settings.consumer_delivery_limit),
        "LOG_JSON": "false",
    }
    script = Path(__file__).with_name("crash_consumer.py")
    process = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
        assert line.strip() == "ready"
        publisher = await bus_factory("publisher")
        envelope = envelope_for(uuid.uuid4())
        await publisher.publish(envelope)
        code = await asyncio.wait_for(asyncio.to_thread(process.wait), 30)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 17, "the consumer should have crashed after committing"
    assert await counter(engine, envelope.aggregate_id) == 1  # the effect was committed

    # A healthy consumer on the same queue gets the unacknowledged message again.
    calls: list[Envelope] = []
    handler = counting_handler(make_sessionmaker(engine), "crashtest")

    async def recording(envelope: Envelope) -> None:
        calls.append(envelope)
        await handler(envelope)

    bus = await bus_factory("crashtest", start=False)
    bus.subscribe(UserCreatedV1, recording)
    await bus.start()
    await wait_until(lambda: calls)
    assert calls[0].event_id == envelope.event_id
    await asyncio.sleep(0.3)
    assert await counter(engine, envelope.aggregate_id) == 1, "the effect was applied twice"
    assert await inbox_rows(engine) == 1


async def test_poison_message_goes_to_the_dead_letter_queue_and_others_flow(
    engine, settings, bus_factory
) -> None:
    poison = uuid.uuid4()
    attempts: list[uuid.UUID] = []
    handler = counting_handler(make_sessionmaker(engine), "poison")

    async def sometimes_fails(envelope: Envelope) -> None:
        event = envelope.parsed()
        if event.user_id == poison:
            attempts.append(event.user_id)
            raise RuntimeError("this message can never be handled")
        await handler(envelope)

    bus = await bus_factory(start=False)
    bus.subscribe(UserCreatedV1, sometimes_fails, consumer="poison")
    labels = {"service": bus.service, "type": "user.created", "outcome": "dead_lettered"}
    dead_before = REGISTRY.get_sample_value("events_consumed_total", labels) or 0
    await bus.start()
    await bus.publish(envelope_for(poison))
    good = envelope_for(uuid.uuid4())
    await bus.publish(good)

    await wait_until(lambda: counter(engine, good.aggregate_id))
    dlq_name = bus.queue_name("poison", "user.created.v1") + ".dlq"
    connection = await aio_pika.connect(settings.rabbitmq_url)
    try:
        channel = await connection.channel()
        dlq = await channel.get_queue(dlq_name, ensure=True)
        dead = await wait_until(lambda: dlq.get(no_ack=True, fail=False), timeout=15)
    finally:
        await connection.close()
    # delivery limit 2: the first delivery plus two redeliveries, then dead-lettered.
    assert len(attempts) == settings.consumer_delivery_limit + 1
    assert Envelope.model_validate_json(dead.body).parsed().user_id == poison
    assert dead.headers["x-death"][0]["reason"] == "delivery_limit"
    # The consumer read the delivery count, so it knew the last attempt was the last one.
    assert REGISTRY.get_sample_value("events_consumed_total", labels) == dead_before + 1
    # The consumer goes on: a message after the poison one is handled.
    later = envelope_for(uuid.uuid4())
    await bus.publish(later)
    await wait_until(lambda: counter(engine, later.aggregate_id))
