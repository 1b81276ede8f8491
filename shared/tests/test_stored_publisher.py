"""Publishing stored envelopes on a confirm channel of their own (shared.bus.StoredPublisher,
shared.confirms), as the relay and the gateway's webhooks do with tracing off: a FastStream
consumer receives them as it received FastStream's own publishes (body, message id, headers),
all confirmed; a mandatory publish nobody takes is `Unroutable`; without a connection each
row carries its error."""

from __future__ import annotations

import asyncio
import socket
import uuid

import pytest

from shared.bus import Bus, StoredEvent, Unroutable
from shared.events import Envelope, UserCreatedV1
from shared.testing import wait_until

pytestmark = pytest.mark.usefixtures("clean")


TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_a_batch_is_confirmed_and_consumed_as_faststream_publishes_are(bus_factory) -> None:
    received: list[tuple[Envelope, dict]] = []
    consumer = await bus_factory("storedsink", start=False)

    async def record(envelope: Envelope) -> None:
        message = consumer.broker.context.get_local("message")
        received.append((envelope, dict(message.headers)))

    consumer.subscribe(UserCreatedV1, record, consumer="storedsink")
    await consumer.start()
    publisher = await bus_factory("storedsource")
    envelopes = [
        Envelope.wrap(
            UserCreatedV1(user_id=uuid.uuid4(), email="x@example.com"),
            producer="test",
            correlation_id=f"c-{n}",
            traceparent=TRACEPARENT,
        )
        for n in range(200)
    ]
    results = await publisher.stored.publish([StoredEvent.of(e) for e in envelopes])
    assert results == [None] * len(envelopes)
    await wait_until(lambda: len(received) >= len(envelopes), timeout=20)
    got = {e.event_id: (e, h) for e, h in received}
    for envelope in envelopes:
        copy, headers = got[envelope.event_id]
        assert copy == envelope
        assert headers["event_type"] == "user.created"
        assert headers["version"] == 1
        assert headers["traceparent"].startswith("00-0af7651916cd43dd")


async def test_a_mandatory_publish_no_queue_takes_is_unroutable(bus_factory) -> None:
    publisher = await bus_factory("nobody")
    envelope = Envelope.wrap(UserCreatedV1(user_id=uuid.uuid4(), email="x@example.com"), "test")
    [error] = await publisher.stored.publish([StoredEvent.of(envelope)], mandatory=True)
    assert isinstance(error, Unroutable)
    with pytest.raises(Unroutable):
        await publisher.publish(envelope, mandatory=True)
    # Not mandatory: confirmed, and dropped by the broker.
    assert await publisher.stored.publish([StoredEvent.of(envelope)]) == [None]


async def test_without_a_connection_every_row_carries_its_error(settings) -> None:
    nowhere = settings.model_copy(
        update={"rabbitmq_url": f"amqp://guest:guest@127.0.0.1:{free_port()}/"}
    )
    publisher = Bus(nowhere, "unconnected")
    envelope = Envelope.wrap(UserCreatedV1(user_id=uuid.uuid4(), email="x@example.com"), "test")
    results = await asyncio.wait_for(publisher.stored.publish([StoredEvent.of(envelope)] * 3), 10)
    assert len(results) == 3 and all(isinstance(r, ConnectionError) for r in results)
    await publisher.stored.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
