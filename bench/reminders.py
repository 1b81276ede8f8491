"""Reminders: 10,000 jobs due in the same minute, drained by one scheduler and by two.

Runs the real `ReminderScheduler` against a database of its own, migrated like the service's
(conversations' Alembic environment). Each job is written as it is in production: the SMS
message (pending), its `message.received` and `message.reply_requested` outbox rows, the
conversation's counters and the job's new state, one transaction per batch. The provider
call is not part of it (the delivery consumer makes it later from the outbox).

    .venv/bin/python -m bench.reminders [--jobs 10000] [--conversations 200]

CPU is this process's (the scheduler's Python); Postgres's own CPU is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from conversations.reminders.scheduler import ReminderScheduler
from shared.db.base import make_engine, make_sessionmaker
from shared.testing import migrated_database

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "services" / "conversations" / "alembic.ini"
DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_reminders_{}"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def seed(engine: Any, jobs: int, conversations: int) -> None:
    """One workspace, `conversations` SMS conversations, `jobs` bookings each with one
    reminder due within the last minute (all in the same minute)."""
    now = datetime.now(UTC)
    workspace = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(text("TRUNCATE conversations.reminder_jobs, conversations.outbox"))
        await conn.execute(
            text(
                "INSERT INTO conversations.workspaces (id, owner_id, handle, timezone, name, "
                "source_updated_at) VALUES (:id, :owner, :handle, 'Europe/Madrid', 'Acme', now())"
            ),
            {"id": workspace, "owner": uuid.uuid4(), "handle": f"bench-{workspace.hex[:8]}"},
        )
        conversation_ids = [uuid.uuid4() for _ in range(conversations)]
        for cid in conversation_ids:
            contact = uuid.uuid4()
            await conn.execute(
                text(
                    "INSERT INTO conversations.contacts (id, workspace_id, name) "
                    "VALUES (:id, :ws, 'Ana')"
                ),
                {"id": contact, "ws": workspace},
            )
            await conn.execute(
                text(
                    "INSERT INTO conversations.conversations (id, workspace_id, channel, "
                    "visitor_id, started_at, last_activity_at, contact_id) VALUES (:id, :ws, "
                    "'sms', :visitor, now(), now(), :contact)"
                ),
                {
                    "id": cid,
                    "ws": workspace,
                    "visitor": f"+1555{cid.int % 10**7:07d}",
                    "contact": contact,
                },
            )
        bookings, planned = [], []
        start = now + timedelta(hours=2)
        for n in range(jobs):
            booking = f"bk-{n}"
            cid = conversation_ids[n % conversations]
            bookings.append({"ws": workspace, "b": booking, "c": cid, "start": start})
            planned.append(
                {
                    "id": uuid.uuid4(),
                    "ws": workspace,
                    "b": booking,
                    "c": cid,
                    "start": start,
                    "due": now - timedelta(seconds=n % 50),
                }
            )
        await conn.execute(
            text(
                "INSERT INTO conversations.reminder_bookings (workspace_id, booking_id, status, "
                "source, conversation_id, service, start_at, visitor_name, source_updated_at) "
                "VALUES (:ws, :b, 'confirmed', 'platform', :c, 'Haircut', :start, 'Ana', now())"
            ),
            bookings,
        )
        await conn.execute(
            text(
                "INSERT INTO conversations.reminder_jobs (id, workspace_id, booking_id, "
                "conversation_id, kind, offset_minutes, start_at, due_at) "
                "VALUES (:id, :ws, :b, :c, 'reminder', 120, :start, :due)"
            ),
            planned,
        )


async def _drain(engine: Any, schedulers: int, batch_size: int) -> dict[str, float]:
    sessionmaker = make_sessionmaker(engine)
    runners = [ReminderScheduler(sessionmaker, batch_size=batch_size) for _ in range(schedulers)]

    async def drain(scheduler: ReminderScheduler) -> int:
        total = 0
        while claimed := await scheduler.run_once():
            total += claimed
        return total

    start, cpu = time.perf_counter(), _cpu()
    claimed = await asyncio.gather(*(drain(r) for r in runners))
    seconds, cpu_seconds = time.perf_counter() - start, _cpu() - cpu
    async with engine.connect() as conn:
        sent = (
            await conn.execute(
                text("SELECT count(*) FROM conversations.reminder_jobs WHERE status = 'sent'")
            )
        ).scalar_one()
        written = (
            await conn.execute(
                text(
                    "SELECT count(*), count(DISTINCT metadata->'reminder'->>'job_id') "
                    "FROM conversations.messages WHERE metadata ? 'reminder'"
                )
            )
        ).one()
    total = sum(claimed)
    return {
        "schedulers": schedulers,
        "claimed": total,
        "sent": int(sent),
        "messages": int(written[0]),
        "distinct_jobs_in_messages": int(written[1]),
        "seconds": round(seconds, 3),
        "per_s": round(total / seconds, 1),
        "cpu_ms_per_reminder": round(cpu_seconds * 1000 / max(total, 1), 3),
    }


async def measure(jobs: int, conversations: int, batch_size: int) -> dict[str, Any]:
    out: dict[str, Any] = {"jobs": jobs, "conversations": conversations, "batch": batch_size}
    name = DATABASE_URL.format(uuid.uuid4().hex[:8])  # private, dropped afterwards
    async with migrated_database(name, [ALEMBIC_INI]) as url:
        engine = make_engine(url, pool_size=4)
        try:
            for schedulers in (1, 2):
                await seed(engine, jobs, conversations)
                async with engine.begin() as conn:
                    await conn.execute(text("DELETE FROM conversations.messages"))
                out[f"schedulers_{schedulers}"] = await _drain(engine, schedulers, batch_size)
        finally:
            await engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.jobs, args.conversations, args.batch)), indent=2))


if __name__ == "__main__":
    main()
