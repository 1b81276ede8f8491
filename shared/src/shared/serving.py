"""`serve()`: how a service process runs its app with uvicorn.

Kept apart from `shared.runtime` on purpose: with `WEB_CONCURRENCY` above 1 the process that
calls it is only uvicorn's supervisor, and importing the whole stack there (FastAPI,
FastStream, SQLAlchemy, the service's app) would cost it some 60 MB it never uses.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared.logging import configure_logging
from shared.settings import ServiceSettings

_STATUS = {408: b"408 Request Timeout", 431: b"431 Request Header Fields Too Large"}
# After a refusal, how long what the client still sends is read and dropped before closing.
LINGER_SECONDS = 1.0


class BoundedHeadProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol (httptools), with what it lacks against slowloris: a
    deadline for each request's line and headers, and a bound on their size.

    uvicorn times out only a kept connection that stays silent after an answer; a client that
    connects and sends nothing, or trickles a header a byte at a time, holds the connection
    (and a slot of `limit_concurrency`) for as long as it likes. Here the head of every
    request must be complete within `header_timeout` seconds of the connection opening, or of
    the previous answer ending; past it the connection is closed (with a 408 if a request
    had begun). A head larger than `h11_max_incomplete_event_size` bytes gets a 431.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout: float = getattr(self.config, "header_timeout", 10.0)
        self.max_head_bytes: int = self.config.h11_max_incomplete_event_size or 64 * 1024
        self.head_deadline: asyncio.TimerHandle | None = None
        self.head_begun = False  # a byte of the current request's head arrived
        self.in_head = True  # between one request's headers and the next one's
        self.head_bytes = 0
        self.refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return  # lingering after a refusal: the rest of the request is dropped
        super().data_received(data)
        if self.in_head and not self.transport.is_closing():
            # Whatever the parser took without finishing a head was head.
            self.head_bytes += len(data)
            if self.head_bytes > self.max_head_bytes:
                self._refuse(431)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_begun, self.in_head, self.head_bytes = True, True, 0

    def on_headers_complete(self) -> None:
        self.in_head, self.head_begun = False, False
        self._cancel_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)  # the next request's head is already here
        super().on_response_complete()
        if not pipelined and not self.transport.is_closing():
            self.in_head = True
            self._await_head()

    def _await_head(self) -> None:
        self._cancel_deadline()
        self.head_deadline = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _cancel_deadline(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None

    def _head_too_slow(self) -> None:
        self.head_deadline = None
        if self.transport.is_closing():
            return
        if self.head_begun:
            self._refuse(408)
        else:  # an idle connection: nothing to answer
            self.transport.close()

    def _refuse(self, status: int) -> None:
        """Answer and close lingering, as web servers do: closing a socket with unread input
        makes the kernel send a reset, which can destroy the answer before the client (still
        sending its oversized head) reads it. So stop writing, drop what still arrives for a
        moment, then close."""
        self._cancel_deadline()
        self.refused = True
        self.transport.write(
            b"HTTP/1.1 " + _STATUS[status] + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


class CoalescingTransport(asyncio.Transport):
    """The connection's transport, with the writes of one turn of the event loop sent as one.

    uvicorn writes an answer's status line and headers, then its body, each straight to the
    socket: two sends, two TCP segments, and two wake-ups of the client (on loopback the
    sender's CPU carries the receiver's TCP work too). Every answer is written within one
    turn, so joining that turn's writes and sending them at its end halves the sends for the
    same bytes in the same order. Closing, or half-closing, sends what is pending first.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def _flush(self) -> None:
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending = []
        if not self._transport.is_closing():  # the peer went away meanwhile
            self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)


class ServerConfig(uvicorn.Config):
    """uvicorn's Config plus the head deadline (uvicorn has no such setting); workers get it
    with the rest of the config."""

    def __init__(self, app: Any, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout


def server_options(settings: ServiceSettings, port: int) -> dict[str, Any]:
    """What every service's uvicorn runs with (see `serve`); tests build servers from it."""
    return {
        "host": "0.0.0.0",
        "port": port,
        "log_config": None,
        "timeout_graceful_shutdown": 20,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.trusted_proxies,
        "http": BoundedHeadProtocol,
        "header_timeout": settings.server_header_timeout_seconds,
        "h11_max_incomplete_event_size": settings.server_max_header_bytes,
        "limit_concurrency": settings.server_limit_concurrency,
        "timeout_keep_alive": settings.server_keep_alive_seconds,
    }


def serve(app_factory: str, settings: ServiceSettings, port: int) -> None:
    """Run one service with uvicorn: our JSON logging, and time to drain on SIGTERM.

    `app_factory` names the service's server factory, `"<service>.__main__:served_app"`:
    called with `settings` it builds the app this process serves; called with nothing (as
    uvicorn's workers call it) it reads the settings from the environment itself.

    On SIGTERM uvicorn stops accepting, lets requests in flight finish (up to 20 s), then
    the lifespan stops the relay after its batch and the consumers after their messages.
    Forwarded headers are believed only from `TRUSTED_PROXIES` (the ingress in front of the
    gateway; the gateway in front of a service), never from uvicorn's own environment default.

    `WEB_CONCURRENCY=1` (the default): this process builds the app and serves it. Above 1,
    uvicorn's own supervisor binds the port once and spawns that many workers, each a fresh
    interpreter that imports `app_factory` and builds its own app, engine, broker connection,
    consumers and relay; it replaces a worker that dies, and on SIGTERM (or SIGINT) sends
    SIGTERM to every worker and waits until all have drained as above. Several workers of one
    service are as safe as several replicas: consumers of a queue compete (RabbitMQ gives each
    message to one of them, the inbox skips a redelivered one), and relays claim outbox rows
    `FOR UPDATE SKIP LOCKED` and hold back an aggregate's later rows while an earlier one is
    unpublished, so no two relays publish one row and an aggregate's events keep their order.
    What is per process becomes per worker: the DB pool, `/metrics` (a scrape sees one
    worker), in-process rate limits and stream caps.

    Against clients that hold connections open: at most `SERVER_LIMIT_CONCURRENCY`
    connections and requests at once (a request beyond gets 503), an idle kept connection is
    closed after `SERVER_KEEP_ALIVE_SECONDS`, and a request's line and headers must arrive
    within `SERVER_HEADER_TIMEOUT_SECONDS` and `SERVER_MAX_HEADER_BYTES` (BoundedHeadProtocol).
    """
    options = server_options(settings, port)
    if settings.web_concurrency == 1:
        module, _, name = app_factory.partition(":")
        factory = getattr(importlib.import_module(module), name)
        run(ServerConfig(factory(settings), **options))
        return
    # The supervisor logs too (workers starting, dying, stopping): in our format.
    configure_logging(
        app_factory.split(".", 1)[0], settings.log_level, settings.resolved_log_format
    )
    run(ServerConfig(app_factory, factory=True, workers=settings.web_concurrency, **options))


def run(config: ServerConfig) -> None:
    """`uvicorn.run` with a config built here (it builds its own from keywords, which cannot
    carry the head deadline): one server in this process, or a supervisor of workers."""
    from uvicorn.supervisors import Multiprocess

    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        server = uvicorn.Server(config)
        server.run()
        if not server.started:  # as uvicorn.run: a server that never started is a failure
            raise SystemExit(3)
