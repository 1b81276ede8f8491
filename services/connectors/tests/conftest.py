import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import aio_pika
import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from sqlalchemy import text

from connectors.main import create_app
from connectors.settings import Settings
from shared.events import Envelope, Event, WorkspaceCreatedV1
from shared.testing import (
    TEST_SECRET_KEY,
    internal_headers,
    migrated_database,
    running,
    test_names,
    wait_until,
)

from .fakes import (
    AGENDAPRO_KEY,
    CALENDLY_TOKEN,
    SQUARE_TOKEN,
    FakeServer,
    FakeState,
    agendapro_app,
    calendly_app,
    square_app,
)

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
# Newest first: KEY_A encrypts; KEY_B still decrypts (the rotation test moves rows to it).
KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
CALENDLY_SIGNING_KEY = "calendly-signing-key-for-tests"
SQUARE_SIGNATURE_KEY = "square-signature-key-for-tests"
PUBLIC_BASE_URL = "https://base.example.test"


@pytest.fixture(scope="session", autouse=True)
def loopback_only() -> Iterator[None]:
    """No test reaches the internet: any connection beyond loopback fails loudly."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def allowed(address: Any) -> bool:
        if isinstance(address, tuple) and address:
            host = str(address[0])
            return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")
        return True  # unix sockets

    def connect(self: socket.socket, address: Any) -> Any:
        if not allowed(address):
            raise OSError(f"test tried to reach {address!r} beyond loopback")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        if not allowed(address):
            raise OSError(f"test tried to reach {address!r} beyond loopback")
        return real_connect_ex(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect = real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def calendly() -> Iterator[FakeServer]:
    state = FakeState(tokens={CALENDLY_TOKEN})
    server = FakeServer(calendly_app(state), state).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def square() -> Iterator[FakeServer]:
    state = FakeState(tokens={SQUARE_TOKEN})
    server = FakeServer(square_app(state), state).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def agendapro() -> Iterator[FakeServer]:
    state = FakeState(tokens={AGENDAPRO_KEY})
    server = FakeServer(agendapro_app(state), state).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_fakes(request: pytest.FixtureRequest) -> None:
    for name in ("calendly", "square", "agendapro"):
        if name in request.fixturenames:
            request.getfixturevalue(name).state.reset()


@pytest.fixture(scope="session")
def settings(calendly: FakeServer, square: FakeServer, agendapro: FakeServer) -> Settings:
    return Settings(
        **test_names("connectors"),
        secret_key=TEST_SECRET_KEY,
        relay_poll_seconds=0.5,
        connector_encryption_keys=f"{KEY_A},{KEY_B}",
        calendly_api_base_url=calendly.url,
        square_api_base_url=square.url,
        square_sandbox_api_base_url=square.url,
        agendapro_api_base_url=agendapro.url,
        provider_timeout_seconds=0.5,
        provider_max_retries=2,
        provider_backoff_seconds=0.01,
        provider_max_retry_after_seconds=5,
        calendly_webhook_signing_key=CALENDLY_SIGNING_KEY,
        square_webhook_signature_key=SQUARE_SIGNATURE_KEY,
        public_base_url=PUBLIC_BASE_URL,
        webhook_tolerance_seconds=300,
    )


@pytest.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[str]:
    async with migrated_database(settings.database_url, [ALEMBIC_INI]) as url:
        yield url


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture(scope="session")
async def client(app: FastAPI, database: str) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as client:
        yield client


@pytest.fixture
def as_user(settings: Settings):
    """Headers the gateway would send for this user."""

    def headers(user_id: UUID | None, is_superuser: bool = False) -> dict[str, str]:
        return internal_headers(settings.secret_key, "connectors", user_id, is_superuser)

    return headers


Query = Callable[..., Awaitable[list[Any]]]


@pytest.fixture
def query(app: FastAPI, client: httpx.AsyncClient) -> Query:
    """Run SQL against the service's database (for checks the API cannot show)."""

    async def run(sql: str, **params: Any) -> list[Any]:
        async with app.state.runtime.engine.begin() as conn:
            result = await conn.execute(text(sql), params)
            return list(result) if result.returns_rows else []

    return run


@pytest.fixture
def publish(app: FastAPI, client: httpx.AsyncClient) -> Callable[[Event], Awaitable[Envelope]]:
    """Publish an event on the real broker as its producer would."""

    async def send(event: Event, producer: str = "workspaces") -> Envelope:
        envelope = Envelope.wrap(event, producer=producer)
        await app.state.runtime.bus.publish(envelope)
        return envelope

    return send


@dataclass(frozen=True)
class Owner:
    user_id: UUID
    workspace_id: UUID
    timezone: str
    headers: dict[str, str]


@pytest.fixture
def owner(publish, query, as_user) -> Callable[..., Awaitable[Owner]]:
    """A user whose workspace has reached the projection through a real workspace.created."""

    async def make(timezone: str = "America/Santiago") -> Owner:
        user_id, workspace_id = uuid4(), uuid4()
        await publish(
            WorkspaceCreatedV1(
                workspace_id=workspace_id,
                owner_id=user_id,
                handle=f"ws-{workspace_id.hex[:10]}",
                name="Studio",
                tone="friendly",
                timezone=timezone,
            )
        )

        async def projected() -> bool:
            rows = await query(
                "SELECT 1 FROM connectors.workspaces WHERE workspace_id = :w", w=workspace_id
            )
            return bool(rows)

        await wait_until(projected)
        return Owner(user_id, workspace_id, timezone, as_user(user_id))

    return make


class EventLog:
    """Every connector.* and booking.* message seen on the broker during the session."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def of(self, type_: str, **payload: Any) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages
            if m["type"] == type_
            and all(str(m["payload"].get(k)) == str(v) for k, v in payload.items())
        ]

    async def wait_for(self, type_: str, count: int = 1, **payload: Any) -> list[dict[str, Any]]:
        async def seen() -> list[dict[str, Any]]:
            found = self.of(type_, **payload)
            return found if len(found) >= count else []

        return await wait_until(seen)


@pytest.fixture(scope="session")
async def events(settings: Settings, client: httpx.AsyncClient) -> AsyncIterator[EventLog]:
    log = EventLog()
    connection = await aio_pika.connect(settings.rabbitmq_url, timeout=5)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        settings.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    for key in ("connector.#", "booking.#"):
        await queue.bind(exchange, routing_key=key)

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            log.messages.append(json.loads(message.body))

    tag = await queue.consume(on_message)
    yield log
    with contextlib.suppress(Exception):
        await queue.cancel(tag)
    await connection.close()


@pytest.fixture(scope="session")
def service_name() -> str:
    return "connectors"
