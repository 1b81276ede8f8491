"""Calls that come while the database is busy leave together: one statement for many replies.

Each reply is handled by a task of its own (sends run concurrently, each at its own pace), but
their claims and their outcomes need not be a transaction each. A `Coalescer` runs one batch at
a time: the first call starts it at once (a lone reply waits for nobody), and every call made
while it runs joins the next one. Under load batches grow by themselves; idle, each is a batch
of one, as before.

A batch that raises is run again item by item, so one bad item (a provider id that is already
taken, a deadlock victim) fails alone: each run is its own transaction, and a failed one
changed nothing.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    def __init__(self, run: Callable[[list[K]], Awaitable[list[V]]], size: int = 100) -> None:
        """`run(items)` answers one result per item, in order."""
        self._run = run
        self.size = size
        self._waiting: list[tuple[K, asyncio.Future[V]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def __call__(self, item: K) -> V:
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._runner is None:
            # A context of its own: the batch is nobody's, so it carries no caller's event
            # id, request id or trace (each item carries what it needs).
            self._runner = asyncio.create_task(
                self._drain(), name="delivery-batch", context=contextvars.Context()
            )
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[K, asyncio.Future[V]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self.size], self._waiting[self.size :]
                batch = [(item, future) for item, future in batch if not future.done()]
                if batch:
                    await self._answer(batch)
                batch = []
        except BaseException as exc:  # cancelled: nobody is left waiting forever
            for _, future in batch + self._waiting:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(exc))
            self._waiting = []
            raise
        finally:
            self._runner = None

    async def _answer(self, batch: list[tuple[K, asyncio.Future[V]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], error=exc)
                return
            for item, future in batch:  # each alone: the failing one fails by itself
                try:
                    [result] = await self._run([item])
                except Exception as alone:
                    _settle(future, error=alone)
                else:
                    _settle(future, result)
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result)


def _settle(
    future: asyncio.Future[V], result: V | None = None, error: Exception | None = None
) -> None:
    if future.done():  # its caller went away (cancelled)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]
