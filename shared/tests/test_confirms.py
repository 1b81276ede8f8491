"""The confirm channel (shared.confirms): its frames are pamqp's bytes; against the real RabbitMQ
every publish is confirmed, an unroutable mandatory one is returned, and whatever closes the
channel or the connection fails what waits with ConnectionError and the next publish connects
again; against a broker that goes silent, its heartbeats close the connection."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
import uvloop
from pamqp import commands
from pamqp import frame as amqp_frame
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from shared.confirms import Address, ConfirmChannel, Message, Returned, publish_frames


def reference_frames(body: bytes, frame_max: int = 131_072, **given: object) -> bytes:
    """The same publish encoded by pamqp, as aiormq encodes it."""
    properties = commands.Basic.Properties(
        content_type="application/json",
        delivery_mode=2,
        priority=0,
        message_id=given["message_id"],
        correlation_id=given["correlation_id"],
        message_type=given["message_type"],
        headers=given["headers"],
    )
    method = commands.Basic.Publish(
        exchange=given["exchange"], routing_key=given["routing_key"], mandatory=given["mandatory"]
    )
    parts = [
        amqp_frame.marshal(method, 1),
        amqp_frame.marshal(ContentHeader(0, len(body), properties), 1),
    ]
    room = frame_max - 8
    parts += [
        amqp_frame.marshal(ContentBody(body[i : i + room]), 1) for i in range(0, len(body), room)
    ]
    return b"".join(parts)


@pytest.mark.parametrize(
    ("body", "given"),
    [
        (
            b'{"type":"user.created"}',
            {
                "exchange": "base.events",
                "routing_key": "user.created.v1",
                "message_id": str(uuid.uuid4()),
                "correlation_id": "req-1",
                "message_type": "user.created",
                "headers": {"event_type": "user.created", "version": 1},
                "mandatory": True,
            },
        ),
        (  # a body over three frames, text beyond ASCII, an integer of every width
            "ñandú ✅ ".encode() * 40_000,
            {
                "exchange": "",
                "routing_key": "inbound_message.accepted.v1",
                "message_id": "é" * 20,
                "correlation_id": "ü",
                "message_type": "inbound_message.accepted",
                "headers": {
                    "event_type": "ñ",
                    "version": 70_000,
                    "small": -3,
                    "short": 300,
                    "big": 2**40,
                    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                },
                "mandatory": False,
            },
        ),
        (
            b"",
            {
                "exchange": "x",
                "routing_key": "k",
                "message_id": "m",
                "correlation_id": "c",
                "message_type": "t",
                "headers": {},
                "mandatory": False,
            },
        ),
    ],
)
def test_the_frames_are_the_bytes_pamqp_would_write(body: bytes, given: dict) -> None:
    message = _message(body, given)
    route = {"exchange": given["exchange"], "mandatory": given["mandatory"]}
    assert publish_frames(message, **route) == reference_frames(body, **given)
    assert publish_frames(message, frame_max=4096, **route) == reference_frames(
        body, frame_max=4096, **given
    )


def _message(body: bytes, given: dict) -> Message:
    fields = ("routing_key", "message_id", "correlation_id", "message_type", "headers")
    return Message(body, **{k: given[k] for k in fields})


def test_what_cannot_be_sent_is_refused_before_anything_is_written() -> None:
    too_long = Message(b"{}", "k", "m" * 256, "c", "t", {})
    with pytest.raises(ValueError, match="255 bytes"):
        publish_frames(too_long, exchange="x", mandatory=False)
    flag = Message(b"{}", "k", "m", "c", "t", {"flag": True})
    with pytest.raises(TypeError, match="only text and integers"):
        publish_frames(flag, exchange="x", mandatory=False)


def test_an_address_reads_as_aio_pika_reads_it() -> None:
    plain = Address.of("amqp://guest:gu%2Fest@rabbit/")
    assert (plain.host, plain.port, plain.password, plain.vhost, plain.tls) == (
        "rabbit",
        5672,
        "gu/est",
        "/",
        False,
    )
    tls = Address.of("amqps://u:p@rabbit/base%2Fprod?heartbeat=30&name=gateway-svc")
    assert (tls.port, tls.vhost, tls.tls, tls.heartbeat) == (5671, "base/prod", True, 30)
    with pytest.raises(ValueError, match="not an AMQP URL"):
        Address.of("http://rabbit/")


# -- against the real RabbitMQ ---------------------------------------------------------------


@pytest.fixture
async def queue(names: dict[str, str]) -> AsyncIterator[tuple[str, aio_pika.abc.AbstractQueue]]:
    """An exchange of this test's own with a queue bound to `k`; both deleted afterwards."""
    exchange_name = f"{names['events_exchange']}.confirms.{uuid.uuid4().hex[:6]}"
    connection = await aio_pika.connect(names["rabbitmq_url"])
    channel = await connection.channel()
    exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC)
    bound = await channel.declare_queue(exclusive=True)
    await bound.bind(exchange, "k")
    try:
        yield exchange_name, bound
    finally:
        await exchange.delete()
        await connection.close()


def publish(channel: ConfirmChannel, exchange: str, key: str = "k", **given: object):
    message = Message(
        body=b'{"n": 1}',
        routing_key=key,
        message_id=str(given.get("message_id", uuid.uuid4())),
        correlation_id="c",
        message_type="test.event",
        headers={"event_type": "test.event", "version": 1},
    )
    return channel.publish(message, exchange=exchange, mandatory=bool(given.get("mandatory")))


async def test_many_publishes_at_once_are_each_confirmed_and_delivered(names, queue) -> None:
    exchange, bound = queue
    channel = ConfirmChannel(names["rabbitmq_url"], name="test-confirms")
    try:
        ids = [str(uuid.uuid4()) for _ in range(500)]
        await asyncio.gather(*(publish(channel, exchange, message_id=i) for i in ids))
        got = []
        async with bound.iterator() as messages:
            async for message in messages:
                await message.ack()
                got.append(message)
                if len(got) == len(ids):
                    break
        assert [m.message_id for m in got] == ids  # one channel: in the order written
        first = got[0]
        assert first.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert first.content_type == "application/json" and first.type == "test.event"
        assert first.headers == {"event_type": "test.event", "version": 1}
    finally:
        await channel.close()


def test_it_runs_on_uvloop_as_the_services_do(names, queue) -> None:
    exchange, _ = queue

    async def twice() -> None:
        channel = ConfirmChannel(names["rabbitmq_url"], name="test-confirms")
        try:
            await asyncio.gather(publish(channel, exchange), publish(channel, exchange))
        finally:
            await channel.close()

    uvloop.run(twice())


async def test_a_mandatory_publish_nobody_takes_is_returned_others_go_on(names, queue) -> None:
    exchange, _ = queue
    channel = ConfirmChannel(names["rabbitmq_url"], name="test-confirms")
    try:
        results = await asyncio.gather(
            publish(channel, exchange, mandatory=True),
            publish(channel, exchange, "nobody", mandatory=True),
            publish(channel, exchange, "nobody"),  # not mandatory: confirmed, dropped
            return_exceptions=True,
        )
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], Returned) and "NO_ROUTE" in str(results[1])
    finally:
        await channel.close()


async def test_a_channel_the_broker_closes_fails_what_waits_and_the_next_connects(
    names, queue
) -> None:
    exchange, _ = queue
    channel = ConfirmChannel(names["rabbitmq_url"], name="test-confirms")
    try:
        await publish(channel, exchange)
        # No such exchange: the broker closes the channel (404) instead of confirming.
        with pytest.raises(ConnectionError, match="NOT_FOUND"):
            await publish(channel, f"{exchange}.missing")
        await publish(channel, exchange)
        assert channel.connected
    finally:
        await channel.close()


async def test_a_dropped_connection_fails_what_waits_and_the_next_connects(names, queue) -> None:
    exchange, _ = queue
    channel = ConfirmChannel(names["rabbitmq_url"], name="test-confirms")
    try:
        await publish(channel, exchange)
        waiting = asyncio.ensure_future(publish(channel, exchange))
        await asyncio.sleep(0)  # written into the turn's buffer, not yet confirmed
        assert channel._wire is not None and channel._wire.transport is not None
        channel._wire.transport.abort()
        with pytest.raises(ConnectionError):
            await waiting
        await publish(channel, exchange)
    finally:
        await channel.close()


async def test_once_closed_it_publishes_no_more(names, queue) -> None:
    exchange, _ = queue
    channel = ConfirmChannel(names["rabbitmq_url"], name="test-confirms")
    await publish(channel, exchange)
    await channel.close()
    assert not channel.connected
    with pytest.raises(ConnectionError, match="was closed"):
        await publish(channel, exchange)


async def test_a_refused_login_says_so(names) -> None:
    url = names["rabbitmq_url"].replace("guest:guest@", "guest:wrong@")
    channel = ConfirmChannel(url, name="test-confirms")
    with pytest.raises(ConnectionError):
        await publish(channel, "x")
    assert not channel.connected


async def test_nothing_listening_is_a_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = ConfirmChannel(f"amqp://guest:guest@127.0.0.1:{port}/", name="test-confirms")
    with pytest.raises(ConnectionError):
        await publish(channel, "x")


async def test_a_broker_that_goes_silent_is_left_after_two_heartbeats() -> None:
    """A fake broker that opens the connection with a one-second heartbeat and then says
    nothing: the publish waiting for its confirm fails with ConnectionError after about two
    seconds, not at its five-second timeout."""
    server = await asyncio.start_server(_silent_broker, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    channel = ConfirmChannel(f"amqp://guest:guest@127.0.0.1:{port}/?heartbeat=1", name="t")
    try:
        started = time.monotonic()
        with pytest.raises(ConnectionError, match="closed"):
            await publish(channel, "x")
        assert 1.5 < time.monotonic() - started < 4.5
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await server.wait_closed()


async def _silent_broker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    def send(method: object, channel: int = 0) -> None:
        writer.write(amqp_frame.marshal(method, channel))

    await reader.readexactly(8)  # the protocol header
    send(commands.Connection.Start(mechanisms="PLAIN", locales="en_US"))
    # StartOk, then TuneOk and Open arrive; answer each step as a broker would.
    await _read_frame(reader)
    send(commands.Connection.Tune(channel_max=1, frame_max=131_072, heartbeat=1))
    await _read_frame(reader)
    await _read_frame(reader)
    send(commands.Connection.OpenOk())
    await _read_frame(reader)
    send(commands.Channel.OpenOk(), 1)
    await _read_frame(reader)
    send(commands.Confirm.SelectOk(), 1)
    with contextlib.suppress(Exception):
        while await reader.read(65536):  # hears everything, answers nothing
            pass
    writer.close()


async def _read_frame(reader: asyncio.StreamReader) -> None:
    head = await reader.readexactly(7)
    size = int.from_bytes(head[3:7], "big")
    await reader.readexactly(size + 1)
