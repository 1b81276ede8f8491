"""One dedicated LISTEN connection per process; it wakes the hub's streams.

Losing it costs latency, not events: streams poll as well and always read from the database
after their last change number. After a reconnect every stream reads, since notifications
sent while nobody listened are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from conversations.live.hub import Hub
from shared.settings import plain_database_url

log = logging.getLogger(__name__)

CHANNEL = "conversations_live"


class LiveListener:
    def __init__(
        self,
        database_url: str,
        hub: Hub,
        check_seconds: float = 10.0,
        retry_seconds: float = 1.0,
        connect: Callable[..., Awaitable[asyncpg.Connection]] = asyncpg.connect,
    ) -> None:
        self.dsn = plain_database_url(database_url)
        self._connect = connect
        self.hub = hub
        self.check_seconds = check_seconds
        self.retry_seconds = retry_seconds
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connection: asyncpg.Connection | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="live-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            change = json.loads(payload)
            workspace = uuid.UUID(change["workspace_id"])
            conversation = uuid.UUID(change["conversation_id"])
        except (ValueError, KeyError, TypeError):
            log.warning("live notification ignored: unreadable payload")
            return
        self.hub.notify(workspace, conversation)

    async def _run(self) -> None:
        """Connect, listen, watch; on any failure close and try again, for the life of the
        process. A database restarting fails in many ways (refused, reset, "starting up",
        the connection closed under `add_listener`): none may end this task, or every stream
        of the process would wait for its fallback poll from then on."""
        delay = self.retry_seconds
        while True:
            lost = asyncio.Event()
            try:
                self._connection = await self._connect(self.dsn, timeout=5)
                self._connection.add_termination_listener(lambda _, lost=lost: lost.set())
                await self._connection.add_listener(CHANNEL, self._on_notify)
            except Exception as exc:  # retried whatever the cause; logged
                log.warning(
                    "live listener cannot connect, retrying: %s: %s", type(exc).__name__, exc
                )
                await self._close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = self.retry_seconds
            self.connected.set()
            self.hub.wake_all()
            await self._watch(lost)
            self.connected.clear()
            log.warning("live listener connection lost, reconnecting")
            await self._close()

    async def _watch(self, lost: asyncio.Event) -> None:
        """Until the connection ends; a periodic query catches a silently dead socket."""
        assert self._connection is not None
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), self.check_seconds)
                return
            try:
                await self._connection.fetchval("SELECT 1", timeout=5)
            except Exception:  # any failure of the check: reconnect
                return

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)
