"""The agent in its real loop: the service's bus and database, its HTTP calendar client
against a fake connectors API on loopback, a fixed clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI

from conversations.agent.calendar import ConnectorsCalendar
from conversations.agent.evaluation.calendar import MemoryCalendar
from conversations.agent.loop import AgentRunner
from conversations.connectors import Connectors
from conversations.main import create_app
from conversations.settings import Settings
from shared.events import (
    ConnectorActivatedV1,
    InboundMessageAcceptedV1,
    WorkspaceCreatedV1,
    WorkspaceServiceCreatedV1,
)
from shared.testing import TEST_SECRET_KEY, migrated_database, running, test_names, wait_until
from shared.tokens import audience_key

from .fake_connectors import FakeConnectors

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
# Tuesday 1 December 2026, 08:00 in Madrid: every test reads the same week.
NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The agent's tests get their own app, database and bus names with the agent's consumer
    on; the service's other tests run without it."""
    return Settings(
        **test_names("conversations"),
        secret_key=TEST_SECRET_KEY,
        relay_poll_seconds=0.5,
        agent_enabled=True,
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


@pytest.fixture(scope="session")
def fake_connectors() -> Iterator[FakeConnectors]:
    fake = FakeConnectors(TEST_SECRET_KEY).start()
    yield fake
    fake.stop()


@pytest.fixture
async def agent(app, client, fake_connectors) -> AsyncIterator[AgentRunner]:
    runner: AgentRunner = app.state.agent
    connectors = Connectors(fake_connectors.url, audience_key(TEST_SECRET_KEY, "connectors"), 2.0)
    runner.calendar_factory = lambda owner_id: ConnectorsCalendar(connectors, owner_id)
    runner.clock = lambda: NOW
    runner.burst_seconds = 0.0
    runner.enabled = True
    fake_connectors.down = False
    yield runner
    runner.enabled = False
    await connectors.close()


@dataclass
class Shop:
    workspace_id: UUID
    owner_id: UUID
    headers: dict[str, str]
    services: dict[str, UUID]
    calendar: MemoryCalendar | None


@pytest.fixture
def shop(publish, query, as_user, fake_connectors):
    async def make(
        *,
        tone: str = "friendly",
        timezone: str = "Europe/Madrid",
        services: tuple[tuple[str, int], ...] = (("Haircut", 30), ("Beard trim", 45)),
        connector: bool = True,
    ) -> Shop:
        owner_id, workspace_id = uuid4(), uuid4()
        await publish(
            WorkspaceCreatedV1(
                workspace_id=workspace_id,
                owner_id=owner_id,
                handle=f"ws-{workspace_id.hex[:12]}",
                name="Acme Salon",
                tone=tone,
                timezone=timezone,
            ),
            producer="workspaces",
        )
        ids: dict[str, UUID] = {}
        for position, (name, minutes) in enumerate(services):
            ids[name] = uuid4()
            await publish(
                WorkspaceServiceCreatedV1(
                    service_id=ids[name],
                    workspace_id=workspace_id,
                    name=name,
                    duration_minutes=minutes,
                    is_active=True,
                    position=position,
                ),
                producer="workspaces",
            )
        calendar = None
        if connector:
            calendar = MemoryCalendar(
                timezone, {str(i): m for i, (_, m) in zip(ids.values(), services, strict=True)}
            )
            fake_connectors.calendars[owner_id] = calendar
            await publish(
                ConnectorActivatedV1(
                    connector_id=uuid4(),
                    workspace_id=workspace_id,
                    provider="builtin",
                    name="Calendar",
                ),
                producer="connectors",
            )
        await wait_until(
            lambda: query(
                "SELECT 1 FROM conversations.workspace_services WHERE workspace_id = :w "
                "HAVING count(*) = :n",
                w=workspace_id,
                n=len(services),
            )
        )
        if connector:
            await wait_until(
                lambda: query(
                    "SELECT 1 FROM conversations.connector_states WHERE workspace_id = :w",
                    w=workspace_id,
                )
            )
        await wait_until(
            lambda: query("SELECT 1 FROM conversations.workspaces WHERE id = :w", w=workspace_id)
        )
        return Shop(workspace_id, owner_id, as_user(owner_id), ids, calendar)

    return make


@dataclass
class Chat:
    """One visitor on WhatsApp writing to a shop, and what the agent answered."""

    shop: Shop
    visitor_id: str
    publish: Any
    query: Any
    conversation_id: UUID | None = None
    channel: str = "whatsapp"

    async def say(self, text: str) -> None:
        await self.publish(
            InboundMessageAcceptedV1(
                channel=self.channel,
                workspace_id=self.shop.workspace_id,
                visitor_id=self.visitor_id,
                visitor_name="Ana",
                external_id=f"wamid.{uuid4().hex}",
                content=text,
                sent_at=datetime.now(UTC),
            )
        )

    async def conversation(self) -> dict[str, Any]:
        rows = await wait_until(
            lambda: self.query(
                "SELECT * FROM conversations.conversations "
                "WHERE workspace_id = :w AND visitor_id = :v",
                w=self.shop.workspace_id,
                v=self.visitor_id,
            )
        )
        self.conversation_id = rows[0].id
        return dict(rows[0]._mapping)

    async def replies(self) -> list[str]:
        conversation = await self.conversation()
        rows = await self.query(
            "SELECT content FROM conversations.messages "
            "WHERE conversation_id = :c AND role = 'agent' ORDER BY sent_at, id",
            c=conversation["id"],
        )
        return [r.content for r in rows]

    async def answered(self) -> int:
        """Visitor messages the agent has dealt with (answered, or seen while it was silent)."""
        conversation = await self.conversation()
        rows = await self.query(
            "SELECT cardinality(answered_ids) AS n FROM conversations.agent_conversations "
            "WHERE conversation_id = :c",
            c=conversation["id"],
        )
        return rows[0].n if rows else 0

    async def turn(self, text: str) -> str:
        """Say something and wait for the agent's next reply."""
        before = len(await self.replies()) if self.conversation_id else 0
        await self.say(text)

        async def next_reply() -> str | None:
            replies = await self.replies()
            return replies[before] if len(replies) > before else None

        return await wait_until(next_reply, timeout=10)


@pytest.fixture
def chat(publish, query):
    def make(shop: Shop) -> Chat:
        return Chat(shop, f"3460{uuid4().int % 10**7:07d}", publish, query)

    return make
