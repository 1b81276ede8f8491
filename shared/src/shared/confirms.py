"""`ConfirmChannel`: persistent publishes with publisher confirms on an AMQP connection of its
own, written straight to the socket. A publish's frames are encoded here (`publish_frames`);
everything else, the handshake and what the broker sends, is pamqp's (the codec aiormq uses).

Why not aiormq, which FastStream and aio-pika run on: every publish through it is a lock, a
timeout scope, a countdown, a frame list handed to a writer task through a queue, that task's
wake-up and socket write, the reader task's wake-up per confirm and the channel's frame queue
(measured: about 70 % of the gateway's CPU per webhook, each webhook waiting for its own
confirm). Here a publish is its three frames encoded and written with whatever else was
published in the same turn of the event loop (one write), and a future the protocol resolves
when the broker's ack (or nack, or return) is read; nothing else runs per message. Consuming,
topology and every other channel stay on FastStream's robust connection.

What it does, and no more: PLAIN login, one channel in confirm mode, heartbeats, `Basic.Return`
for mandatory publishes (matched by message id, as the broker sends it before its ack),
single and multiple acks and nacks. Whatever closes the channel or the connection (the broker
stopping, a publish to an exchange that does not exist, a missed heartbeat) fails every publish
still waiting with `ConnectionError`, and the next publish connects again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import struct
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from pamqp import commands, constants, encode, exceptions
from pamqp import frame as amqp_frame
from pamqp.header import ContentHeader, ProtocolHeader
from pamqp.heartbeat import Heartbeat

log = logging.getLogger(__name__)

CHANNEL = 1
HEARTBEAT_SECONDS = 10  # as the services' other connections (shared.bus.broker_url)
CONNECT_TIMEOUT_SECONDS = 5.0
FRAME_MAX = 131_072
_FRAME_HEAD = struct.Struct(">BHI")
_HEARTBEAT = amqp_frame.marshal(Heartbeat(), 0)


@dataclass(frozen=True, slots=True)
class Message:
    """What a publish sends: a persistent JSON body with its ids, type and headers (the
    message id also matches a broker's return to its publish)."""

    body: bytes
    routing_key: str
    message_id: str
    correlation_id: str
    message_type: str
    headers: dict[str, str | int]


class Returned(Exception):
    """The broker returned a mandatory publish: no queue is bound for its routing key."""


class Nacked(Exception):
    """The broker refused a publish (a nack: it could not take responsibility for it)."""


@dataclass(frozen=True, slots=True)
class Address:
    """What an `amqp://` or `amqps://` URL says, as aio-pika reads it (the `heartbeat` query
    parameter included; its other parameters are aio-pika's own and mean nothing here)."""

    host: str
    port: int
    user: str
    password: str
    vhost: str
    tls: bool
    heartbeat: int

    @classmethod
    def of(cls, url: str) -> Address:
        parts = urlsplit(url)
        if parts.scheme not in ("amqp", "amqps"):
            raise ValueError(f"not an AMQP URL: {parts.scheme}://")
        tls = parts.scheme == "amqps"
        query = dict(parse_qsl(parts.query))
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (5671 if tls else 5672),
            user=unquote(parts.username or "guest"),
            password=unquote(parts.password or "guest"),
            vhost=unquote(parts.path[1:]) if len(parts.path) > 1 else "/",
            tls=tls,
            heartbeat=int(query.get("heartbeat", HEARTBEAT_SECONDS)),
        )


class _Wire(asyncio.Protocol):
    """Frames in and out of one connection: reads whole frames off the stream and hands them
    to the channel; writes of one event-loop turn go out as one write."""

    def __init__(self, channel: ConfirmChannel) -> None:
        self.channel = channel
        self.transport: asyncio.Transport | None = None
        self.inbox = bytearray()
        self.outbox: list[bytes] = []
        self.closed = asyncio.get_running_loop().create_future()
        self.last_read = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's or uvloop's (the services run on uvloop, whose transports are their own).
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(ProtocolHeader().marshal())

    def write(self, data: bytes) -> None:
        if not self.outbox:
            asyncio.get_running_loop().call_soon(self.flush)
        self.outbox.append(data)

    def flush(self) -> None:
        if self.transport is not None and self.outbox and not self.transport.is_closing():
            self.transport.write(b"".join(self.outbox))
        self.outbox.clear()

    def data_received(self, data: bytes) -> None:
        self.last_read = time.monotonic()
        inbox = self.inbox
        inbox += data
        while len(inbox) >= 7:
            kind, _, size = _FRAME_HEAD.unpack_from(inbox)
            end = 7 + size + 1
            if len(inbox) < end:
                return
            frame = bytes(inbox[:end])
            del inbox[:end]
            if kind == constants.FRAME_HEARTBEAT:
                continue
            try:
                _, _, value = amqp_frame.unmarshal(frame)
            except exceptions.UnmarshalingException:
                log.exception("unreadable frame from the broker; closing the publish connection")
                if self.transport is not None:
                    self.transport.abort()
                return
            self.channel._received(value)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.closed.done():
            self.closed.set_result(exc)
        error = ConnectionError(f"the publish connection closed: {exc or 'closed'}")
        self.channel._lost(self, error)


class ConfirmChannel:
    """One AMQP connection with one channel in confirm mode; `publish()` returns once the
    broker has confirmed the message (raises `Returned`, `Nacked`, `ConnectionError` or
    `TimeoutError` otherwise). Connects on first use and again after anything but `close()`
    closed it."""

    def __init__(self, url: str, *, name: str, timeout: float = 5.0) -> None:
        self.address = Address.of(url)
        self.name = name
        self.timeout = timeout
        self._wire: _Wire | None = None
        self._connecting = asyncio.Lock()
        self._handshake: asyncio.Queue[Any] | None = None
        self._frame_max = FRAME_MAX
        self._next_tag = 0
        self._pending: OrderedDict[int, asyncio.Future[None]] = OrderedDict()
        self._tag_of: dict[str, int] = {}
        self._returning: str | None = None  # a Basic.Return's message, until its header
        self._heartbeat: asyncio.TimerHandle | None = None
        self._heartbeat_seconds = 0
        self._closed = False  # by close(): for good

    @property
    def connected(self) -> bool:
        return self._wire is not None and self._handshake is None

    async def publish(self, message: Message, *, exchange: str, mandatory: bool = False) -> None:
        """Publish one persistent JSON message; return once the broker confirmed it."""
        if self._closed:
            raise ConnectionError("the publish channel was closed")
        async with asyncio.timeout(self.timeout):
            wire = self._wire if self.connected else await self._connect()
            assert wire is not None
            frames = publish_frames(
                message, exchange=exchange, mandatory=mandatory, frame_max=self._frame_max
            )
            self._next_tag += 1
            tag = self._next_tag
            confirmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._pending[tag] = confirmed
            self._tag_of[message.message_id] = tag
            wire.write(frames)
            try:
                await confirmed
            finally:
                if self._tag_of.get(message.message_id) == tag:
                    del self._tag_of[message.message_id]
                self._pending.pop(tag, None)

    # -- connecting ------------------------------------------------------------------------

    async def _connect(self) -> _Wire:
        async with self._connecting:
            if self.connected:
                assert self._wire is not None
                return self._wire
            self._handshake = asyncio.Queue()
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
                    _, wire = await loop.create_connection(
                        lambda: _Wire(self),
                        self.address.host,
                        self.address.port,
                        ssl=ssl.create_default_context() if self.address.tls else None,
                    )
                    self._wire = wire
                    await self._open(wire)
            except BaseException:
                wire_now, self._wire, self._handshake = self._wire, None, None
                if wire_now is not None and wire_now.transport is not None:
                    wire_now.transport.abort()
                raise
            self._handshake = None
            self._beat()
            log.info("publish connection open", extra={"connection_name": self.name})
            return wire

    async def _open(self, wire: _Wire) -> None:
        address = self.address
        start = await self._expect(commands.Connection.Start)
        if "PLAIN" not in str(start.mechanisms).split():
            raise ConnectionError(f"the broker offers no PLAIN login: {start.mechanisms}")
        self._send(
            wire,
            commands.Connection.StartOk(
                client_properties={
                    "connection_name": self.name,
                    "product": "base-platform",
                    "capabilities": {"publisher_confirms": True, "basic.nack": True},
                },
                mechanism="PLAIN",
                response=f"\0{address.user}\0{address.password}",
            ),
            channel=0,
        )
        tune = await self._expect(commands.Connection.Tune)
        self._frame_max = min(tune.frame_max or FRAME_MAX, FRAME_MAX)
        wanted = self.address.heartbeat
        self._heartbeat_seconds = min(tune.heartbeat, wanted) if tune.heartbeat else wanted
        self._send(
            wire,
            commands.Connection.TuneOk(
                channel_max=1, frame_max=self._frame_max, heartbeat=self._heartbeat_seconds
            ),
            channel=0,
        )
        self._send(wire, commands.Connection.Open(virtual_host=address.vhost), channel=0)
        await self._expect(commands.Connection.OpenOk)
        self._send(wire, commands.Channel.Open(), channel=CHANNEL)
        await self._expect(commands.Channel.OpenOk)
        self._send(wire, commands.Confirm.Select(), channel=CHANNEL)
        await self._expect(commands.Confirm.SelectOk)
        self._next_tag = 0

    async def _expect(self, kind: type[Any]) -> Any:
        assert self._handshake is not None
        value = await self._handshake.get()
        if isinstance(value, BaseException):
            raise value
        if isinstance(value, commands.Connection.Close):
            raise ConnectionError(f"the broker refused the connection: {value.reply_text}")
        if not isinstance(value, kind):
            raise ConnectionError(f"expected {kind.name} from the broker, got {value.name}")
        return value

    def _send(self, wire: _Wire, method: Any, *, channel: int) -> None:
        wire.write(amqp_frame.marshal(method, channel))

    def _beat(self) -> None:
        """Send a heartbeat every half period; close when the broker has said nothing for two."""
        wire = self._wire
        if wire is None or not self._heartbeat_seconds:
            return
        if time.monotonic() - wire.last_read > 2 * self._heartbeat_seconds:
            log.warning("publish connection missed the broker's heartbeats; closing it")
            if wire.transport is not None:
                wire.transport.abort()
            return
        wire.write(_HEARTBEAT)
        self._heartbeat = asyncio.get_running_loop().call_later(
            self._heartbeat_seconds / 2, self._beat
        )

    # -- what the broker says --------------------------------------------------------------

    def _received(self, value: Any) -> None:
        if self._handshake is not None:
            self._handshake.put_nowait(value)
            return
        if isinstance(value, commands.Basic.Ack):
            self._settle(value.delivery_tag, value.multiple, None)
        elif isinstance(value, commands.Basic.Nack):
            self._settle(value.delivery_tag, value.multiple, Nacked("the broker nacked it"))
        elif isinstance(value, commands.Basic.Return):
            self._returning = f"{value.reply_code} {value.reply_text}"
        elif isinstance(value, ContentHeader):
            if self._returning is not None:
                reason, self._returning = self._returning, None
                tag = self._tag_of.get(value.properties.message_id or "")
                future = self._pending.get(tag) if tag is not None else None
                if future is not None and not future.done():
                    future.set_exception(Returned(reason))
        elif isinstance(value, commands.Channel.Close | commands.Connection.Close):
            log.warning(
                "the broker closed the publish %s: %s %s",
                "channel" if isinstance(value, commands.Channel.Close) else "connection",
                value.reply_code,
                value.reply_text,
            )
            self._close(ConnectionError(f"the broker closed it: {value.reply_text}"))

    def _settle(self, tag: int, multiple: bool, error: Exception | None) -> None:
        pending = self._pending
        if multiple:
            while pending:
                first = next(iter(pending))
                if first > tag:
                    break
                _resolve(pending.pop(first), error)
        elif tag in pending:
            _resolve(pending.pop(tag), error)

    def _lost(self, wire: _Wire, error: Exception) -> None:
        if wire is not self._wire:  # one closed before: what it held is settled already
            return
        if self._handshake is not None:
            self._handshake.put_nowait(error)
        self._wire = None
        self._fail_pending(error)

    def _close(self, error: Exception) -> None:
        wire, self._wire = self._wire, None
        self._fail_pending(error)
        if wire is not None and wire.transport is not None:
            wire.transport.abort()

    def _fail_pending(self, error: Exception) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        pending, self._pending = self._pending, OrderedDict()
        self._tag_of.clear()
        self._returning = None
        for future in pending.values():
            if not future.done():
                future.set_exception(error)

    async def close(self) -> None:
        """Close for good: the connection politely (Connection.Close, then a short wait for
        the broker's answer), and every later publish fails."""
        self._closed = True
        async with self._connecting:
            wire = self._wire
            if wire is None or wire.transport is None:
                return
            self._send(
                wire,
                commands.Connection.Close(
                    reply_code=200, reply_text="closing", class_id=0, method_id=0
                ),
                channel=0,
            )
            wire.flush()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await asyncio.shield(wire.closed)
            self._close(ConnectionError("the publish connection was closed"))


def _resolve(future: asyncio.Future[None], error: Exception | None) -> None:
    if future.done():  # returned first: the ack that follows changes nothing
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


# -- encoding -------------------------------------------------------------------------------
# The three frames of a publish, encoded here rather than by pamqp, whose generic encoder
# (a type looked up and dispatched per property and per table value) was half of a publish's
# CPU. Only what `publish` sends is encoded; a test compares the bytes with pamqp's own.

_PUBLISH_METHOD = struct.pack(">HH", 60, 40)  # Basic.Publish
_CONTENT_CLASS = struct.pack(">HH", 60, 0)  # Basic's class id, weight 0
# content_type, headers, delivery_mode, priority, correlation_id, message_id, message_type
_FLAGS = struct.pack(">H", 32768 | 8192 | 4096 | 2048 | 1024 | 128 | 32)
_CONTENT_TYPE = b"\x10application/json"
_PERSISTENT_PRIORITY_0 = b"\x02\x00"
_SIZE = struct.Struct(">Q")
_LONG = struct.Struct(">I")
_FRAME_END = b"\xce"


def publish_frames(
    message: Message, *, exchange: str, mandatory: bool, frame_max: int = FRAME_MAX
) -> bytes:
    """Basic.Publish, its content header (persistent JSON, priority 0, the ids, the type and
    the headers table) and the body in frames of at most `frame_max` bytes, on `CHANNEL`."""
    body = message.body
    method = b"".join(
        (
            _PUBLISH_METHOD,
            b"\x00\x00",  # reserved
            _short(exchange),
            _short(message.routing_key),
            b"\x01" if mandatory else b"\x00",
        )
    )
    header = b"".join(
        (
            _CONTENT_CLASS,
            _SIZE.pack(len(body)),
            _FLAGS,
            _CONTENT_TYPE,
            _table(message.headers),
            _PERSISTENT_PRIORITY_0,
            _short(message.correlation_id),
            _short(message.message_id),
            _short(message.message_type),
        )
    )
    parts = [_frame(constants.FRAME_METHOD, method), _frame(constants.FRAME_HEADER, header)]
    room = frame_max - 8
    for start in range(0, len(body), room):
        parts.append(_frame(constants.FRAME_BODY, body[start : start + room]))
    return b"".join(parts)


def _frame(kind: int, payload: bytes) -> bytes:
    return _FRAME_HEAD.pack(kind, CHANNEL, len(payload)) + payload + _FRAME_END


def _short(value: str) -> bytes:
    encoded = value.encode()
    if len(encoded) > 255:
        raise ValueError(f"longer than 255 bytes, which AMQP's short string holds: {value[:40]!r}")
    return bytes((len(encoded),)) + encoded


def _table(values: dict[str, str | int]) -> bytes:
    fields = []
    for key, value in sorted(values.items()):
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise TypeError(f"header {key!r}: only text and integers are sent, not {value!r}")
        if isinstance(value, str):
            encoded = value.encode()
            fields.append(_short(key) + b"S" + _LONG.pack(len(encoded)) + encoded)
        else:
            fields.append(_short(key) + encode.table_integer(value))
    table = b"".join(fields)
    return _LONG.pack(len(table)) + table
