"""A scheduler process SIGKILLed while reminders are due: after a new one starts, every due
reminder has been written exactly once. Each job's message, outbox rows and new state commit
in one transaction, and a claim is a row lock, so the killed batch rolls back and nothing
waits for a claim that died with its process."""

from __future__ import annotations

import asyncio
import importlib.util
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from conversations.reminders.scheduler import ReminderScheduler
from shared.db.base import make_engine, make_sessionmaker
from shared.testing import migrated_database, wait_until

ROOT = Path(__file__).resolve().parents[3]
ALEMBIC_INI = ROOT / "services" / "conversations" / "alembic.ini"
JOBS = 3000

pytestmark = pytest.mark.timeout(300)

# The child: the service's scheduler, draining batch after batch until it is killed.
CHILD = """
import asyncio, sys
from conversations.reminders.scheduler import ReminderScheduler
from shared.db.base import make_engine, make_sessionmaker

async def main():
    scheduler = ReminderScheduler(make_sessionmaker(make_engine(sys.argv[1], pool_size=2)))
    print("ready", flush=True)
    while True:
        await scheduler.run_once()

asyncio.run(main())
"""


def _seeder():
    """bench/reminders.py's seed: due SMS reminders written as the service plans them."""
    spec = importlib.util.spec_from_file_location(
        "bench_reminders", ROOT / "bench" / "reminders.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.seed


async def _counts(engine) -> tuple[int, int, int]:
    async with engine.connect() as conn:
        sent = await conn.scalar(
            text("SELECT count(*) FROM conversations.reminder_jobs WHERE status = 'sent'")
        )
        messages, jobs = (
            await conn.execute(
                text(
                    "SELECT count(*), count(DISTINCT metadata->'reminder'->>'job_id') "
                    "FROM conversations.messages WHERE metadata ? 'reminder'"
                )
            )
        ).one()
    return int(sent), int(messages), int(jobs)


async def test_a_scheduler_killed_mid_batch_leaves_each_reminder_written_once() -> None:
    url = (
        f"postgresql+asyncpg://postgres@127.0.0.1:5432/test_reminders_killed_{uuid.uuid4().hex[:8]}"
    )
    async with migrated_database(url, [ALEMBIC_INI]):
        engine = make_engine(url, pool_size=4)
        try:
            await _seeder()(engine, JOBS, 50)
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD, url], cwd=ROOT, stdout=subprocess.PIPE
            )
            try:
                assert child.stdout is not None
                assert child.stdout.readline().strip() == b"ready"

                async def midway() -> bool:
                    return 0 < (await _counts(engine))[0] < JOBS

                await wait_until(midway, timeout=60, interval=0.02)
                child.send_signal(signal.SIGKILL)
                await asyncio.to_thread(child.wait, 10)
            finally:
                if child.poll() is None:
                    child.kill()
            before = await _counts(engine)
            assert before[0] < JOBS, "the child finished before it was killed"

            scheduler = ReminderScheduler(make_sessionmaker(engine))
            while await scheduler.run_once():
                pass
            assert await _counts(engine) == (JOBS, JOBS, JOBS)
        finally:
            await engine.dispose()
