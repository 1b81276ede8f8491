"""The outbox relay on its own: a backlog published in batches vs one at a time, and a drain.

Runs the real `OutboxRelay` against an outbox table of its own (schema `bench_relay` in the
bench database) and its own exchange, with a quorum queue bound to it as consumers have, so
that every publisher confirm costs what it costs in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import time
import uuid
from collections.abc import Sequence
from typing import Any

import aio_pika
from sqlalchemy import text

from shared.bus import Bus
from shared.db.base import make_engine, make_metadata
from shared.db.outbox import outbox_table, outbox_trigger_sql
from shared.events import Envelope, WorkspaceCreatedV1
from shared.relay import OutboxRelay
from shared.settings import ServiceSettings

SCHEMA = "bench_relay"
RELAY_EXCHANGE = "bench.relay.events"
SINK = "bench.relay.sink"


class OneAtATime(OutboxRelay):
    """The same relay, but each publish waits for its confirm before the next one starts."""

    async def _publish_rows(self, rows: Sequence[Any]) -> list[BaseException | None]:
        results: list[BaseException | None] = []
        for row in rows:
            results += await super()._publish_rows([row])
        return results


class FlakyRelay(OutboxRelay):
    """A relay whose broker is "down" (publishes fail at once, as they do) until told."""

    down = False

    async def _publish_rows(self, rows: Sequence[Any]) -> list[BaseException | None]:
        if self.down:
            return [ConnectionError("broker unavailable")] * len(rows)
        return await super()._publish_rows(rows)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rows(n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        event = WorkspaceCreatedV1(
            workspace_id=uuid.uuid4(),
            owner_id=uuid.uuid4(),
            handle=f"relay-{i}",
            name=f"Relay {i}",
            tone="friendly",
            timezone="Europe/Madrid",
        )
        env = Envelope.wrap(event, producer="bench")
        rows.append(
            {
                "event_id": env.event_id,
                "event_type": env.type,
                "routing_key": env.routing_key,
                "aggregate_id": env.aggregate_id,
                "envelope": json.loads(env.model_dump_json()),
            }
        )
    return rows


async def measure_relay(db_url: str, mq_url: str, backlog: int, drain: int) -> dict[str, Any]:
    settings = ServiceSettings(
        database_url=db_url,
        rabbitmq_url=mq_url,
        events_exchange=RELAY_EXCHANGE,
        queue_prefix="bench.relay.",
        _env_file=None,  # type: ignore[call-arg]
    )
    engine = make_engine(db_url, pool_size=4, application_name="bench-relay")
    table = outbox_table(make_metadata(SCHEMA))
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
        await conn.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
        await conn.run_sync(table.metadata.create_all)
        for statement in outbox_trigger_sql(SCHEMA):
            await conn.execute(text(statement))
    bus = Bus(settings, "bench-relay")
    await bus.start()
    mq = await aio_pika.connect(mq_url)
    channel = await mq.channel()
    queue = await channel.declare_queue(SINK, durable=True, arguments={"x-queue-type": "quorum"})
    await queue.bind(RELAY_EXCHANGE, routing_key="#")

    async def fill(n: int) -> None:
        rows = _rows(n)
        async with engine.begin() as conn:
            for start in range(0, n, 1000):
                await conn.execute(table.insert(), rows[start : start + 1000])

    async def unpublished() -> int:
        async with engine.connect() as conn:
            q = text(f'SELECT count(*) FROM "{SCHEMA}".outbox WHERE published_at IS NULL')  # noqa: S608
            return int((await conn.execute(q)).scalar_one())

    async def drain_with(relay: OutboxRelay) -> tuple[float, float]:
        """(seconds, CPU seconds of this process) to publish the whole backlog."""
        start, cpu = time.perf_counter(), _cpu()
        while True:
            published, failed = await relay.relay_once()
            if failed:
                raise RuntimeError("publish failed during the relay benchmark")
            if not published:
                return time.perf_counter() - start, _cpu() - cpu

    try:
        out: dict[str, Any] = {"backlog": backlog, "batch_size": settings.relay_batch_size}
        for name, cls in (("sequential", OneAtATime), ("batched", OutboxRelay)):
            await fill(backlog)
            relay = cls(engine, table, bus, batch_size=settings.relay_batch_size)
            seconds, cpu = await drain_with(relay)
            out[f"{name}_seconds"] = round(seconds, 3)
            out[f"{name}_cpu_ms_per_event"] = round(cpu * 1000 / backlog, 3)
            out[f"{name}_per_s"] = round(backlog / seconds, 1)
            await queue.purge()

        # A backlog written while the broker is down: the relay fails, backs off, and drains
        # once the broker is back. (RabbitMQ itself is never stopped here; the client-side
        # reconnect, 2 s at most with our settings, comes on top in a real outage.)
        relay = FlakyRelay(engine, table, bus, batch_size=settings.relay_batch_size)
        relay.down = True
        relay.start()
        await fill(drain)
        await asyncio.sleep(1.5)
        out["unpublished_while_down"] = await unpublished()
        relay.down = False
        start = time.perf_counter()
        while await unpublished():
            if time.perf_counter() - start > 60:
                break
            await asyncio.sleep(0.02)
        out["drain_seconds"] = round(time.perf_counter() - start, 3)
        await relay.stop()
        await asyncio.sleep(0.5)
        declared = await channel.declare_queue(
            SINK, durable=True, arguments={"x-queue-type": "quorum"}, passive=True
        )
        in_queue = declared.declaration_result.message_count
        out["drain_in_queue"] = in_queue
        out["lost"] = max(0, drain - in_queue) + await unpublished()
        return out
    finally:
        for name in (SINK, RELAY_EXCHANGE, f"{RELAY_EXCHANGE}.dlx"):
            with contextlib.suppress(Exception):
                cleanup = await mq.channel()
                if name == SINK:
                    await cleanup.queue_delete(name)
                else:
                    await cleanup.exchange_delete(name)
        await mq.close()
        await bus.stop()
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
        await engine.dispose()
