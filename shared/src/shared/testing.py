"""Test helpers: a private database and private bus names per run, and waiting without sleeps.

Tests never touch the data `make run` uses: each run creates its own database
(`base_test_<service>_<random>`) and uses its own exchange and queue names, and removes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self, TypeVar, cast

import aio_pika
import httpx
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from shared.settings import async_database_url
from shared.tokens import Principal, audience_key, sign_internal_token

T = TypeVar("T")

# Long enough for HS256 (32 bytes or more), as the settings require.
TEST_SECRET_KEY = "test-secret-key-for-signing-internal-tokens"
DEFAULT_TEST_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_TEST_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"


# The longest, most repetitive visitor texts we could build, all within the 4,000 characters a
# message may carry: runs of one character, alternations, punctuation, emoji, digits, date
# separators, near-addresses. "!" + 1,198 spaces + "!" held a service's event loop for 4.9 s
# when a reader went super-linear; tests send these wherever visitor text is read.
HOSTILE_TEXTS = (
    "!" + " " * 1198 + "!",
    "!" + " " * 3998 + "!",
    "1 " * 2000,
    "7" * 4000,
    "!?.,;:-/()[]'\"@#" * 250,
    "\U0001f600" * 2000,
    "12/" * 1333,
    "at " * 1333,
    "a" * 3999 + "@",
    "+" + "34 6" * 999,
    "\t \n" * 1333 + "?",
)


def server_urls() -> tuple[str, str]:
    """Postgres and RabbitMQ for tests: env vars, local defaults, or testcontainers."""
    db = os.environ.get("DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    mq = os.environ.get("RABBITMQ_URL", DEFAULT_TEST_RABBITMQ_URL)
    if not _reachable(db, 5432) or not _reachable(mq, 5672):
        db, mq = _containers(db, mq)
    return async_database_url(db), mq


def _reachable(url: str, default_port: int) -> bool:
    import socket

    parsed = make_url(url) if "://" in url else None
    host = (parsed.host if parsed else None) or "127.0.0.1"
    port = (parsed.port if parsed else None) or default_port
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


_CONTAINERS: list[Any] = []


def _containers(db: str, mq: str) -> tuple[str, str]:
    """Start throwaway servers when Docker exists and the configured ones do not answer."""
    import shutil
    import subprocess

    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0
    ):
        raise RuntimeError(
            f"Postgres ({db}) or RabbitMQ ({mq}) is unreachable and no Docker engine is "
            "available. Start them (see README: `.ci/run` does it) or set DATABASE_URL and "
            "RABBITMQ_URL."
        )
    from testcontainers.postgres import PostgresContainer
    from testcontainers.rabbitmq import RabbitMqContainer

    if not _reachable(db, 5432):
        pg = PostgresContainer("postgres:15", driver="asyncpg").start()
        _CONTAINERS.append(pg)
        db = pg.get_connection_url()
    if not _reachable(mq, 5672):
        rabbit = RabbitMqContainer("rabbitmq:3.10-management").start()
        _CONTAINERS.append(rabbit)
        mq = f"amqp://guest:guest@{rabbit.get_container_host_ip()}:{rabbit.get_exposed_port(5672)}/"
    return db, mq


def test_names(service: str) -> dict[str, str]:
    """Fresh database, exchange and queue prefix for one test run."""
    db, mq = server_urls()
    tag = uuid.uuid4().hex[:8]
    url = make_url(db).set(database=f"base_test_{service}_{tag}")
    return {
        "database_url": url.render_as_string(hide_password=False),
        "rabbitmq_url": mq,
        "events_exchange": f"test.{tag}.events",
        "queue_prefix": f"test.{tag}.",
    }


async def delete_bus_names(rabbitmq_url: str, exchange: str, queues: list[str]) -> None:
    connection = await aio_pika.connect(rabbitmq_url, timeout=5)
    try:
        for name in queues:
            channel = await connection.channel()
            with contextlib.suppress(Exception):  # absent is fine
                await channel.queue_delete(name)
        for name in (exchange, f"{exchange}.dlx"):
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.exchange_delete(name)
    finally:
        await connection.close()


_UNSET: Any = object()


async def wait_until(
    predicate: Callable[[], Awaitable[T] | T],
    timeout: float = 10.0,
    interval: float = 0.05,
    *,
    expected: Any = _UNSET,
) -> T:
    """Poll `predicate` (plain or async) until what it returns is truthy, or equals
    `expected` when that is given; fail with the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if inspect.isawaitable(last):
            last = await last
        if (last == expected) if expected is not _UNSET else last:
            return cast(T, last)
        await asyncio.sleep(interval)
    wanted = f" (expected {expected!r})" if expected is not _UNSET else ""
    raise AssertionError(f"condition not met within {timeout}s{wanted} (last value: {last!r})")


# A served process closes a kept connection idle for SERVER_KEEP_ALIVE_SECONDS (5 s by
# default), and httpx keeps one for 5 s too: a request sent on such a connection as the server
# closes it fails with "Server disconnected without sending a response". A client must give
# up an idle connection before the server does, as a browser's retry would otherwise hide.
CLIENT_KEEP_ALIVE_SECONDS = 2.0


def served_client(base_url: str = "", timeout: float = 15) -> httpx.AsyncClient:
    """An HTTP client for a served process (gateway, service) over loopback, as a frontend
    keeps one open between calls."""
    limits = httpx.Limits(
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=CLIENT_KEEP_ALIVE_SECONDS,
    )
    return httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits)


def internal_headers(
    secret_key: str, audience: str, user_id: uuid.UUID | None, is_superuser: bool = False
) -> dict[str, str]:
    """What the gateway holding `secret_key` sends to `audience` for this user."""
    key = audience_key(secret_key, audience)
    token = sign_internal_token(key, audience, Principal(user_id, is_superuser))
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def migrated_database(database_url: str, alembic_inis: list[Path]) -> AsyncIterator[str]:
    """Create a private database, run the given services' migrations, drop it afterwards."""
    from shared.db.migrations import drop_database, ensure_database, upgrade

    await ensure_database(database_url)
    try:
        for ini in alembic_inis:
            await asyncio.to_thread(upgrade, ini, database_url)
        yield database_url
    finally:
        await drop_database(database_url)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan (broker, relay, consumers) and give an in-process client."""
    runtime = app.state.runtime
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield client
    finally:
        await delete_bus_names(
            runtime.settings.rabbitmq_url,
            runtime.settings.events_exchange,
            runtime.bus.queue_names,
        )


class LoopbackServer:
    """An ASGI app served by uvicorn in a thread on 127.0.0.1 (a free port): the local
    stand-in for a provider or a peer service that real HTTP clients talk to in tests."""

    def __init__(self, app: Any, name: str = "fake server") -> None:
        import socket
        import threading

        import uvicorn

        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.sock.close()


class EventStream:
    """The events of one open Server-Sent Events response, read as a browser's EventSource
    would: `next()` is the next block with `data` (comments and pings skipped), as a dict of
    its fields (`event`, `id`, `data`) plus `json`, the data parsed."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            event: dict[str, Any] = {}
            async for line in self.lines:
                if not line:
                    if "data" in event:
                        return event
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    event[name] = value.removeprefix(" ")
            raise EOFError("stream ended")

        event = await asyncio.wait_for(read(), timeout)
        event["json"] = json.loads(event["data"])
        return event


class Mailbox:
    """A local SMTP sink on 127.0.0.1 (aiosmtpd): what the gateway mails lands here."""

    def __init__(self) -> None:
        from email.message import Message

        self.messages: list[Message] = []
        self.port = 0
        self._controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes

        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Any]:
        return [m for m in self.messages if m["To"] == address]

    @staticmethod
    def html(message: Any) -> str:
        for part in message.walk():
            if part.get_content_type() == "text/html":
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                return payload.decode()
        raise AssertionError("no HTML part")

    def start(self) -> Self:
        import socket

        from aiosmtpd.controller import Controller

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
