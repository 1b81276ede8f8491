"""A small HTTP/1.1 keep-alive client for calls between our own services.

The gateway forwards every owner request and every webhook through one of these: a pool of
plain asyncio connections per upstream, responses parsed by httptools (llhttp, the parser
uvicorn already uses). It does what forwarding needs and nothing else: no redirects, no
cookies, no TLS, no compression, bodies read whole. Streamed answers (server-sent events)
stay on httpx. Per request it costs a fraction of what a general client does, which is most
of what the gateway does per forwarded call.

    pool = Pool("127.0.0.1", 8001, timeout=30)
    reply = await pool.request("GET", "/api/v1/workspaces/me", [("authorization", "...")])
    reply.status, reply.headers, reply.body
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

# Methods whose request carries a body, so they always get a Content-Length.
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
# RFC 9110 §9.2.2: sending one of these twice has the effect of sending it once, so a request
# lost with its connection may be sent again (RFC 9112 §9.3.1); any other method may not.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class UpstreamError(Exception):
    """The request got no complete answer."""


class UpstreamTimeout(UpstreamError):
    """No complete answer within the timeout (connecting or waiting)."""


class UpstreamUnavailable(UpstreamError):
    """The upstream refused the connection, closed it, or sent something unreadable."""


class UpstreamOutcomeUnknown(UpstreamUnavailable):
    """A request that is not idempotent (POST, PATCH) was sent and no complete answer came
    back: the upstream may have applied it, so it is not sent again and the caller must not
    assume either outcome."""


@dataclass(slots=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one request at a time, the answer parsed as it arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Reply] | None = None
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.received = False  # a byte of the current answer arrived
        self.reusable = True
        self.idle_since = 0.0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, only alike.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamUnavailable(f"unreadable answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        self._fail(UpstreamUnavailable("the connection was closed before the answer ended"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if not self.parser.should_keep_alive():
            self.reusable = False
        reply = Reply(self.parser.get_status_code(), self.headers, b"".join(self.body))
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(reply)

    # use
    def send(self, data: bytes) -> asyncio.Future[Reply]:
        assert self.transport is not None
        self.headers, self.body, self.received = [], [], False
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter

    def alive(self) -> bool:
        return self.reusable and self.transport is not None and not self.transport.is_closing()

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: UpstreamError) -> None:
        self.reusable = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)
        if self.transport is not None:
            self.transport.close()


class Pool:
    """Keep-alive connections to one upstream (`host:port`).

    At most `max_connections` requests run at once (more wait for a slot); up to `max_idle`
    connections are kept between requests, and one idle longer than `idle_seconds` is closed
    rather than reused (keep it below the upstream's keep-alive timeout; uvicorn's is 5 s).
    An idempotent request (GET, PUT, DELETE...) on a kept connection that the upstream
    closed before answering is sent once more on a new one: most likely the upstream closed
    the idle connection and never saw it. Any other method is never sent again: an upstream
    that applied a POST and then lost the connection would apply it twice (RFC 9112 §9.3.1);
    its failure is `UpstreamOutcomeUnknown`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 2.0,
        max_connections: int = 200,
        max_idle: int = 100,
        idle_seconds: float = 4.0,
    ) -> None:
        self.host, self.port = host, port
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self.max_idle, self.idle_seconds = max_idle, idle_seconds
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: deque[_Connection] = deque()
        self._host_header = f"Host: {host}:{port}\r\n"

    async def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        *,
        timeout: float | None = None,
    ) -> Reply:
        """Send `method target` (a path with its query) and read the whole answer.

        Header names and values must already be valid (no CR or LF): they come from a
        request an HTTP server parsed, or from our own code.
        """
        if method == "HEAD":
            raise ValueError("HEAD is not supported: its answer has no body to read")
        lines = [f"{method} {target} HTTP/1.1\r\n", self._host_header]
        lines += [f"{name}: {value}\r\n" for name, value in headers or ()]
        if body or method in _WITH_BODY:
            lines.append(f"Content-Length: {len(body)}\r\n")
        lines.append("\r\n")
        data = "".join(lines).encode("latin-1") + body
        budget = self.timeout if timeout is None else timeout
        try:
            # The budget covers waiting for a free slot too: a stuck upstream cannot keep
            # requests queued here longer than their timeout.
            async with asyncio.timeout(budget), self._slots:
                return await self._exchange(data, method in IDEMPOTENT)
        except TimeoutError:
            message = f"no answer from {self.host}:{self.port} in {budget} s"
            raise UpstreamTimeout(message) from None

    async def _exchange(self, data: bytes, idempotent: bool) -> Reply:
        conn = self._take()
        reused = conn is not None
        if conn is None:
            conn = await self._connect()
        while True:
            try:
                reply = await conn.send(data)
            except UpstreamUnavailable as exc:
                if reused and not conn.received and idempotent:  # closed while idle: again
                    conn.close()
                    conn, reused = await self._connect(), False
                    continue
                if not idempotent:
                    raise UpstreamOutcomeUnknown(str(exc)) from exc
                raise
            except BaseException:  # cancelled or timed out mid-answer: not reusable
                conn.close()
                raise
            self._give_back(conn)
            return reply

    def _take(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()  # the most recently used: the least likely to be stale
            if conn.alive() and now - conn.idle_since < self.idle_seconds:
                return conn
            conn.close()
        return None

    def _give_back(self, conn: _Connection) -> None:
        if conn.alive() and len(self._idle) < self.max_idle:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(_Connection, self.host, self.port)
        except TimeoutError:
            message = f"could not connect to {self.host}:{self.port} in time"
            raise UpstreamTimeout(message) from None
        except OSError as exc:
            message = f"could not connect to {self.host}:{self.port}: {exc}"
            raise UpstreamUnavailable(message) from exc
        return conn

    async def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


def pool_for(service: str, url: str, timeout: float) -> Pool:
    """A pool for one of our services, from its configured base URL (`http://host:port`)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(
            f"{service} URL {url!r}: services are reached as http://host:port inside the "
            "deployment (TLS ends at the gateway)"
        )
    return Pool(parts.hostname, parts.port or 80, timeout=timeout)
