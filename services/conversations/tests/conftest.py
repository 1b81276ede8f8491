from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from conversations.main import create_app
from conversations.settings import Settings
from shared.bus import Bus
from shared.events import Envelope, Event, InboundMessageAcceptedV1, WorkspaceCreatedV1
from shared.testing import (
    TEST_SECRET_KEY,
    internal_headers,
    migrated_database,
    running,
    test_names,
    wait_until,
)

from .fakes import Providers, start_providers

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"


@pytest.fixture(scope="session")
def providers() -> Iterator[Providers]:
    """Fake Graph API, Twilio and integrator endpoints on loopback, for the whole session."""
    running_providers = start_providers()
    yield running_providers
    running_providers.stop()


@pytest.fixture(scope="session")
def settings(providers: Providers) -> Settings:
    return Settings(
        **test_names("conversations"),
        secret_key=TEST_SECRET_KEY,
        relay_poll_seconds=0.5,
        # Replies go to the loopback fakes (tests/fakes.py), quickly.
        graph_api_base_url=providers.graph.url,
        twilio_api_base_url=providers.twilio.url,
        callback_allow_loopback_http=True,
        delivery_backoff_seconds=0.01,
        delivery_timeout_seconds=1.0,
        delivery_callback_connect_timeout_seconds=0.3,
        delivery_park_seconds=0.1,
        # The agent answers only in the tests about it (tests/agent switch it on).
        agent_enabled=False,
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
        return internal_headers(settings.secret_key, "conversations", user_id, is_superuser)

    return headers


@pytest.fixture
def bus(app: FastAPI, client: httpx.AsyncClient) -> Bus:
    return app.state.runtime.bus


Query = Callable[..., Awaitable[list[Any]]]


@pytest.fixture
def query(app: FastAPI, client: httpx.AsyncClient) -> Query:
    """Run SQL against the service's database and return the rows (read-only checks)."""

    async def run(sql: str, **params: Any) -> list[Any]:
        async with app.state.runtime.engine.connect() as conn:
            return list(await conn.execute(text(sql), params))

    return run


@dataclass(frozen=True)
class Owner:
    owner_id: UUID
    workspace_id: UUID
    handle: str
    headers: dict[str, str]


async def _publish(bus: Bus, event: Event, producer: str = "gateway") -> Envelope:
    envelope = Envelope.wrap(event, producer=producer)
    await bus.publish(envelope, mandatory=True)
    return envelope


@pytest.fixture
def publish(bus: Bus) -> Callable[..., Awaitable[Envelope]]:
    """Publish an event in a fresh envelope on the service's exchange (mandatory)."""

    async def run(event: Event, producer: str = "gateway") -> Envelope:
        return await _publish(bus, event, producer)

    return run


@pytest.fixture
def execute(app: FastAPI, client: httpx.AsyncClient) -> Callable[..., Awaitable[None]]:
    """Write SQL directly, for states no route produces yet."""

    async def run(sql: str, **params: Any) -> None:
        # The service may be writing the same rows meanwhile (a delivery recording a status):
        # at commit both stamp the workspace's live counter, and Postgres may pick this write
        # as a deadlock's victim; a writer tries again, as the service's own consumers do.
        for attempt in range(3):
            try:
                async with app.state.runtime.engine.begin() as conn:
                    await conn.execute(text(sql), params)
                return
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) != "40P01" or attempt == 2:
                    raise

    return run


@pytest.fixture
def new_owner(bus: Bus, query: Query, as_user) -> Callable[..., Awaitable[Owner]]:
    """A workspace made the way production makes it: a `workspace.created` event."""

    async def make(timezone: str = "UTC") -> Owner:
        owner_id, workspace_id = uuid4(), uuid4()
        handle = f"ws-{workspace_id.hex[:12]}"
        await _publish(
            bus,
            WorkspaceCreatedV1(
                workspace_id=workspace_id,
                owner_id=owner_id,
                handle=handle,
                name="Acme",
                tone="friendly",
                timezone=timezone,
            ),
            producer="workspaces",
        )
        await wait_until(
            lambda: query("SELECT 1 FROM conversations.workspaces WHERE id = :id", id=workspace_id)
        )
        return Owner(owner_id, workspace_id, handle, as_user(owner_id))

    return make


def _inbound(**fields: Any) -> InboundMessageAcceptedV1:
    values: dict[str, Any] = {
        "channel": "whatsapp",
        "visitor_id": "15551234567",
        "external_id": f"wamid.{uuid4().hex}",
        "content": "hello",
        "sent_at": datetime.now(UTC),
    } | fields
    return InboundMessageAcceptedV1(**values)


@pytest.fixture
def inbound() -> Callable[..., InboundMessageAcceptedV1]:
    """An inbound item as the gateway would publish it; override what the test is about."""
    return _inbound


async def _matching(coro: Awaitable[Any], predicate: Callable[[Any], bool]) -> Any:
    value = await coro
    return value if predicate(value) else None


@pytest.fixture
def rows_when() -> Callable[..., Awaitable[Any]]:
    """`await rows_when(lambda: query(...), lambda rows: len(rows) == 3)` for wait_until."""
    return _matching


@pytest.fixture(scope="session")
def service_name() -> str:
    return "conversations"


@pytest.fixture
def stored(app: FastAPI, client: httpx.AsyncClient) -> Callable[..., Awaitable[UUID]]:
    """A message written the way the service writes one (counters, time saved, event), at a
    chosen time and role: history the API no longer lets an owner invent (agent messages,
    replies in the past)."""
    from conversations.db.uow import ConversationsUnitOfWork
    from conversations.usecases.messages import store_message

    async def run(conversation_id: Any, role: str, content: str, sent_at: datetime) -> UUID:
        async with ConversationsUnitOfWork(app.state.runtime.sessionmaker) as uow:
            conversation = await uow.conversations.get_any(UUID(str(conversation_id)))
            assert conversation is not None
            message = await store_message(
                uow, conversation, role=role, content=content, sent_at=sent_at
            )
            assert message is not None
            await uow.commit()
            return message.id

    return run
