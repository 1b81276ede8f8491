"""Idempotent consumers: the event id is recorded in the same transaction as the effect."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.uow import UnitOfWork
from shared.events import Envelope

log = logging.getLogger(__name__)


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(120), primary_key=True),
        Column("event_id", PGUUID(as_uuid=True), primary_key=True),
        Column("event_type", String(100), nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


async def claim_event(
    session: AsyncSession, inbox: Table, consumer: str, event_id: UUID, event_type: str
) -> bool:
    """True the first time this consumer sees the event; False for a redelivery."""
    params = {"consumer": consumer, "event_id": event_id, "event_type": event_type}
    return (await session.execute(_claim_statement(inbox), params)).first() is not None


@functools.cache
def _claim_statement(inbox: Table) -> Any:
    """Built once per table and run with parameters (cheaper than rebuilding it per event)."""
    return insert(inbox).on_conflict_do_nothing().returning(inbox.c.event_id)


def idempotent(
    uow_factory: Callable[[], UnitOfWork],
    inbox: Table,
    consumer: str,
    effect: Callable[[Any, Envelope], Awaitable[None]],
) -> Callable[[Envelope], Awaitable[None]]:
    """Wrap `effect(uow, envelope)`: claim the event id, apply, commit, all in one transaction.

    A redelivered event finds its id already claimed and changes nothing.
    """

    async def handle(envelope: Envelope) -> None:
        async with uow_factory() as uow:
            uow.correlation_id = envelope.correlation_id
            uow.traceparent = envelope.traceparent
            if not await claim_event(
                uow.session, inbox, consumer, envelope.event_id, envelope.type
            ):
                log.info("duplicate event skipped", extra={"event_type": envelope.type})
                return
            await effect(uow, envelope)
            await uow.commit()

    handle.__name__ = effect.__name__
    handle.__doc__ = effect.__doc__
    return handle
