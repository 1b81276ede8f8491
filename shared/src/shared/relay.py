"""Outbox relay: publishes committed events to RabbitMQ, then marks them sent.

- Woken within milliseconds by LISTEN/NOTIFY (a trigger on the outbox), with a slow poll as a
  fallback because a lost listener connection silently loses notifications.
- Claims a batch with `FOR UPDATE SKIP LOCKED`, so several relays never hold one row at once,
  and skips any row whose aggregate has an earlier unpublished row it does not hold: events
  of one aggregate leave in commit order even with many relays.
- Marks the batch sent as it claims it (one statement), publishes it concurrently on one
  channel (frames leave in call order), waits for every publisher confirm, and puts back the
  rows whose publish failed before the transaction that holds the locks commits. A broker
  outage leaves the rows in place; the relay backs off and tries again.
- Measures the backlog (unpublished rows, age of the oldest) for the `outbox_backlog` and
  `outbox_oldest_age_seconds` gauges at most every `metrics_seconds`, between batches, so a
  scrape never costs a query and a stuck relay shows as a growing age.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
from prometheus_client import Counter, Gauge
from sqlalchemy import BigInteger, Table, any_, bindparam, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import telemetry
from shared.bus import Bus, StoredEvent
from shared.db.outbox import notify_channel
from shared.settings import plain_database_url

log = logging.getLogger(__name__)

EVENTS_PUBLISHED = Counter(
    "outbox_events_published_total", "Events published by the outbox relay", ["service", "type"]
)
PUBLISH_FAILURES = Counter(
    "outbox_publish_failures_total", "Outbox publishes that failed and will be retried", ["service"]
)
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Unpublished outbox rows", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row", ["service"]
)

# Claiming marks the rows published in the same statement; the transaction stays open while
# they are published, and rows whose publish failed are put back before it commits (a crash
# in between rolls the claim back). One statement, not a SELECT and then an UPDATE.
CLAIM_SQL = """
WITH claimed AS (
    SELECT id, aggregate_id FROM {schema}.outbox
    WHERE published_at IS NULL
    ORDER BY id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), ready AS (
    SELECT c.id FROM claimed c
    WHERE NOT EXISTS (
        SELECT 1 FROM {schema}.outbox e
        WHERE e.aggregate_id = c.aggregate_id AND e.published_at IS NULL AND e.id < c.id
          AND e.id NOT IN (SELECT id FROM claimed)
    )
)
UPDATE {schema}.outbox o
SET published_at = now(), attempts = o.attempts + 1, last_error = NULL
FROM ready WHERE o.id = ready.id
RETURNING o.id, o.envelope::text AS body, o.event_id::text AS event_id, o.event_type,
       o.routing_key, (o.envelope->>'version')::int AS version,
       o.envelope->>'correlation_id' AS correlation_id, o.envelope->>'traceparent' AS traceparent
"""


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        outbox: Table,
        bus: Bus,
        *,
        batch_size: int = 200,
        poll_seconds: float = 2.0,
        backoff_seconds: float = 1.0,
        metrics_seconds: float = 5.0,
    ) -> None:
        self.engine = engine
        self.outbox = outbox
        self.schema = outbox.schema or "public"
        self.bus = bus
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.backoff_seconds = backoff_seconds
        self.metrics_seconds = metrics_seconds
        self._measured_at: float | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self._claim = text(CLAIM_SQL.format(schema=f'"{self.schema}"'))
        self._put_back = (
            update(outbox)
            .where(outbox.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))))
            .values(published_at=None, last_error=bindparam("error"))
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.schema}")

    async def stop(self) -> None:
        """Finish the batch in hand, then stop."""
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close_listener()

    def wake(self) -> None:
        self._wake.set()

    # -- loop ------------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self._ensure_listener()
            try:
                published, failed = await self.relay_once()
            except Exception:
                log.exception("outbox relay iteration failed")
                published, failed = 0, 1
            await self._measure()
            if self._stopping.is_set():
                break
            if failed:
                await self._sleep(self.backoff_seconds)
            elif published < self.batch_size:
                await self._sleep(self.poll_seconds)

    async def _measure(self) -> None:
        """Refresh the backlog gauges when the last reading is older than `metrics_seconds`."""
        now = time.monotonic()
        if self._measured_at is not None and now - self._measured_at < self.metrics_seconds:
            return
        self._measured_at = now
        try:
            await self.backlog()
        except Exception as exc:  # the database may be down; the next round tries again
            log.debug("outbox backlog not measured: %s", exc)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await asyncpg.connect(
                plain_database_url(self.engine.url.render_as_string(hide_password=False)),
                timeout=5,
            )
            await self._listener.add_listener(
                notify_channel(self.schema), lambda *_: self._wake.set()
            )
        except Exception as exc:  # the poll still works without it
            log.warning("outbox listener unavailable: %s", exc)
            self._listener = None

    async def _close_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            with contextlib.suppress(Exception):
                await self._listener.close(timeout=2)
        self._listener = None

    # -- one batch -------------------------------------------------------------------------

    async def relay_once(self) -> tuple[int, int]:
        """Claim, publish and mark one batch. Returns (published, failed)."""
        async with self.engine.connect() as conn, conn.begin():
            claimed = (await conn.execute(self._claim, {"limit": self.batch_size})).all()
            if not claimed:
                return 0, 0
            rows = sorted(claimed, key=lambda row: row.id)  # RETURNING keeps no order
            # Each publish joins the trace of the request that emitted its event; the batch
            # is a trace of its own, linked to each of those.
            with telemetry.span(
                "outbox relay",
                attributes={
                    "messaging.batch.message_count": len(rows),
                    "db.namespace": self.schema,
                },
                links=telemetry.links_to([row.traceparent for row in rows]),
            ):
                results = await self._publish_rows(rows)
                sent = [row.id for row, res in zip(rows, results, strict=True) if res is None]
                failed = [
                    (row.id, res) for row, res in zip(rows, results, strict=True) if res is not None
                ]
                if failed:
                    PUBLISH_FAILURES.labels(self.bus.service).inc(len(failed))
                    error = repr(failed[0][1])[:500]
                    await conn.execute(
                        self._put_back, {"ids": [i for i, _ in failed], "error": error}
                    )
                    log.warning("outbox publish failed for %d events: %s", len(failed), error)
        return len(sent), len(failed)

    async def _publish_rows(self, rows: Sequence[Any]) -> list[BaseException | None]:
        """Publish the batch, all at once; per row None (confirmed) or the error. With tracing
        on, each publish goes through FastStream for its span in the emitter's trace."""
        if telemetry.tracer() is None:
            results = await self.bus.stored.publish([_stored(row) for row in rows])
        else:
            results = await asyncio.gather(
                *(self.bus.publish_stored(json.loads(row.body)) for row in rows),
                return_exceptions=True,
            )
        published = collections.Counter(
            row.event_type for row, result in zip(rows, results, strict=True) if result is None
        )
        for event_type, count in published.items():
            EVENTS_PUBLISHED.labels(self.bus.service, event_type).inc(count)
        return results

    async def backlog(self) -> tuple[int, float]:
        """(unpublished rows, age in seconds of the oldest one) for metrics."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        f'SELECT count(*), min(created_at) FROM "{self.schema}".outbox '  # noqa: S608
                        "WHERE published_at IS NULL"
                    )
                )
            ).one()
        age = 0.0 if row[1] is None else max(0.0, time.time() - row[1].timestamp())
        OUTBOX_BACKLOG.labels(self.bus.service).set(row[0])
        OUTBOX_OLDEST_AGE.labels(self.bus.service).set(age)
        return int(row[0]), age


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(
        event_id=row.event_id,
        event_type=row.event_type,
        version=row.version,
        routing_key=row.routing_key,
        body=row.body.encode(),
        correlation_id=row.correlation_id,
        traceparent=row.traceparent,
    )
