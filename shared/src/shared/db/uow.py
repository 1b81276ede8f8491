"""The unit of work: one session, one transaction, the events it emits committed with it."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db.raw import Raw
from shared.events import Envelope, Event
from shared.logging import request_id_var
from shared.tracing import traceparent_var


class UnitOfWork:
    """Use as `async with uow:`; commit explicitly, anything else rolls back.

    Services subclass it to hang their repositories on `self.session`.
    """

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], outbox: Table, producer: str
    ) -> None:
        self._sessionmaker = sessionmaker
        self._outbox = outbox
        self.producer = producer
        self.session: AsyncSession
        self.correlation_id: str | None = None
        self.traceparent: str | None = None
        self.emitted: list[Envelope] = []

    async def __aenter__(self) -> Self:
        self.session = self._sessionmaker()
        self.emitted = []
        self.on_enter()
        return self

    def on_enter(self) -> None:
        """Hook for subclasses to build repositories on the fresh session."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed and detaches the objects with the
        # state they had, so a use case can return what it read; rollback() would expire them.
        await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()

    async def emit(self, event: Event) -> Envelope:
        [envelope] = await self.emit_many([(event, None)])
        return envelope

    async def emit_many(self, events: Sequence[tuple[Event, Envelope | None]]) -> list[Envelope]:
        """Emit each event, caused by an envelope (its correlation and trace carry on) or by
        this unit of work (None), with one statement whatever their number."""
        envelopes = [
            Envelope.wrap(
                event,
                producer=self.producer,
                correlation_id=(cause.correlation_id if cause else self.correlation_id)
                or request_id_var.get(),
                traceparent=(cause.traceparent if cause else self.traceparent)
                or traceparent_var.get(),
            )
            for event, cause in events
        ]
        if not envelopes:
            return []
        await Raw(self.session).execute(
            _outbox_insert_many(self._outbox),
            [e.event_id for e in envelopes],
            [e.type for e in envelopes],
            [e.routing_key for e in envelopes],
            [e.aggregate_id for e in envelopes],
            [e.model_dump_json() for e in envelopes],
        )
        self.emitted.extend(envelopes)
        return envelopes


@functools.cache
def _outbox_insert_many(outbox: Table) -> str:
    """Rows in the order given (outbox ids follow it, and the relay publishes by id); on
    asyncpg directly (`shared.db.raw`), as every write that emits runs it."""
    name = f'"{outbox.schema}".outbox' if outbox.schema else "outbox"
    columns = "(event_id, event_type, routing_key, aggregate_id, envelope)"
    return (
        f"INSERT INTO {name} {columns} "  # noqa: S608 - a table name, no input
        "SELECT e, t, k, a, v::jsonb FROM unnest($1::uuid[], $2::text[], $3::text[], "
        "$4::text[], $5::text[]) WITH ORDINALITY AS x(e, t, k, a, v, n) ORDER BY n"
    )
