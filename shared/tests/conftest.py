"""Fixtures for the library's own tests: a private database with one outbox/inbox schema."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Column, Integer, String, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.bus import Bus
from shared.db import inbox_table, make_engine, make_metadata, outbox_table
from shared.db.migrations import create_outbox_and_inbox, drop_database, ensure_database
from shared.settings import ServiceSettings
from shared.testing import delete_bus_names, test_names

SCHEMA = "relaytest"
metadata = make_metadata(SCHEMA)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
counters = Table(
    "counters",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Integer, nullable=False),
)


@pytest.fixture(scope="session")
def names() -> dict[str, str]:
    return test_names("shared")


@pytest.fixture
def settings(names: dict[str, str]) -> Iterator[ServiceSettings]:
    """Fresh bus names per test, so queues and bindings never leak between tests."""
    tag = uuid.uuid4().hex[:6]
    yield ServiceSettings(
        database_url=names["database_url"],
        rabbitmq_url=names["rabbitmq_url"],
        events_exchange=f"{names['events_exchange']}.{tag}",
        queue_prefix=f"{names['queue_prefix']}{tag}.",
        consumer_delivery_limit=2,
        consumer_prefetch=8,
    )


@pytest.fixture(scope="session")
async def engine(names: dict[str, str]) -> AsyncIterator[AsyncEngine]:
    url = names["database_url"]
    await ensure_database(url)
    engine = make_engine(url, pool_size=10)

    def build(sync_conn) -> None:  # type: ignore[no-untyped-def]
        sync_conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"'))
        create_outbox_and_inbox(Operations(MigrationContext.configure(sync_conn)), SCHEMA)
        counters.create(sync_conn)

    async with engine.begin() as conn:
        await conn.run_sync(build)
    yield engine
    await engine.dispose()
    await drop_database(url)


@pytest.fixture
async def clean(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(f'TRUNCATE "{SCHEMA}".outbox, "{SCHEMA}".inbox, "{SCHEMA}".counters')
        )


@pytest.fixture
async def bus_factory(settings: ServiceSettings) -> AsyncIterator:
    """Build started buses on this test's names; all are stopped and their names deleted."""
    buses: list[Bus] = []

    async def make(service: str = "relaytest", start: bool = True) -> Bus:
        bus = Bus(settings, service)
        buses.append(bus)
        if start:
            await bus.start()
        return bus

    yield make
    for bus in buses:
        await bus.stop()
    queues = [q for bus in buses for q in bus.queue_names]
    await delete_bus_names(settings.rabbitmq_url, settings.events_exchange, queues)


__all__ = ["SCHEMA", "counters", "inbox", "metadata", "outbox"]
