"""A consumer effect that would visibly double if a redelivery were applied twice."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import UnitOfWork, inbox_table, make_metadata, outbox_table
from shared.db.inbox import idempotent
from shared.events import Envelope

SCHEMA = "relaytest"
_metadata = make_metadata(SCHEMA)
OUTBOX = outbox_table(_metadata)
INBOX = inbox_table(_metadata)


def counting_handler(sessionmaker: async_sessionmaker[AsyncSession], consumer: str):
    async def count(uow: UnitOfWork, envelope: Envelope) -> None:
        await uow.session.execute(
            text(
                f'INSERT INTO "{SCHEMA}".counters (name, value) VALUES (:name, 1) '
                "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1"
            ),
            {"name": envelope.aggregate_id},
        )

    return idempotent(lambda: UnitOfWork(sessionmaker, OUTBOX, "relaytest"), INBOX, consumer, count)
