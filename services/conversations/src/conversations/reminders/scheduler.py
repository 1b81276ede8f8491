"""The reminder scheduler: a loop in the conversations process that sends due jobs.

The jobs table is the only truth. Each pass claims a batch of due jobs `FOR UPDATE SKIP
LOCKED` and, in that same transaction, writes each one's message (pending, with its
`message.reply_requested` outbox event) and its new status, then commits. So:
- two schedulers (replicas, workers) never take the same job: the second skips locked rows;
- a crash or cancellation before the commit rolls everything back: the jobs are still due
  and the next pass sends them; after the commit a job is `sent` and never claimed again;
- after an outage the first passes catch up on whatever came due meanwhile (the use case
  skips those whose appointment has started).
Nothing is sent to a provider here: the delivery consumer does that from the outbox event.

Between passes the loop sleeps until the next job is due, at most REMINDER_POLL_SECONDS (a
job planned by another replica is seen within that); `wake()` cuts the sleep short when
this process has just planned one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations.db.uow import ConversationsUnitOfWork
from conversations.reminders.models import ReminderJob
from conversations.reminders.repository import ReminderRepository
from conversations.usecases.reminders import BatchReads, send_reminder

log = logging.getLogger(__name__)

REMINDERS = Counter(
    "reminder_jobs_total",
    "Reminder jobs the scheduler settled, by kind and outcome",
    ["kind", "status"],
)
MAX_ATTEMPTS = 5
RETRY_BACKOFF = timedelta(seconds=30)


class ReminderScheduler:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        poll_seconds: float = 5.0,
        batch_size: int = 100,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="reminder-scheduler")

    async def stop(self) -> None:
        """Cancel the loop: a batch in flight rolls back and stays due for the next run."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # a wake() during the pass below leaves it set: no lost wake
            try:
                while await self.run_once() == self.batch_size:
                    pass  # a full batch: more may be due right now
                pause = await self._pause()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reminder pass failed; trying again after the poll interval")
                pause = self.poll_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=pause)

    async def _pause(self) -> float:
        async with self.sessionmaker() as session:
            next_due = (
                select(func.min(ReminderJob.due_at))
                .where(ReminderJob.status == "scheduled")
                .scalar_subquery()
            )
            now, next_due_at = (await session.execute(select(func.now(), next_due))).one()
        if next_due_at is None:
            return self.poll_seconds
        return max(0.01, min(self.poll_seconds, (next_due_at - now).total_seconds()))

    async def run_once(self, now: datetime | None = None) -> int:
        """One batch in one transaction; the number of jobs claimed."""
        uow = ConversationsUnitOfWork(self.sessionmaker)
        async with uow:
            moment = now or await uow.session.scalar(select(func.now()))
            assert moment is not None
            jobs = await ReminderRepository(uow.session).claim_due(moment, self.batch_size)
            # Messages lock their conversation's row: taking those in one order across
            # schedulers means two batches never wait on each other in a cycle.
            jobs.sort(key=lambda j: (str(j.conversation_id or ""), j.due_at))
            started = time.perf_counter()
            reads = BatchReads(uow)
            await reads.prefetch(jobs)
            settled: list[tuple[str, str]] = []
            for job in jobs:
                try:
                    async with uow.session.begin_nested():
                        outcome = await send_reminder(uow, job, moment.astimezone(UTC), reads)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # A bug or bad data in one job must not hold the others: it waits and is
                    # tried again, a few times, then is failed with what went wrong.
                    log.exception("reminder job failed", extra={"job_id": str(job.id)})
                    await uow.session.refresh(job)
                    job.attempts += 1
                    job.claimed_until = moment + RETRY_BACKOFF * job.attempts
                    if job.attempts >= MAX_ATTEMPTS:
                        job.status = "failed"
                        job.reason = f"could not be written: {type(exc).__name__}"
                    settled.append((job.kind, job.status))
                else:
                    settled.append((job.kind, outcome.status))
                await self.after_job(job)
            await uow.commit()
        for kind, status in settled:
            REMINDERS.labels(kind, status).inc()
        if jobs:
            log.info(
                "reminder jobs settled",
                extra={
                    "count": len(jobs),
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
        return len(jobs)

    async def after_job(self, job: ReminderJob) -> None:
        """Called after each job of a batch, before the commit (tests hold a batch here)."""
