"""In-process fan-out: which open streams care about which workspace or conversation."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from dataclasses import dataclass, field


class TooManyStreams(Exception):
    """Beyond a stream limit. `per_client`: this visitor or owner has too many open (429);
    otherwise the process is full (503)."""

    def __init__(self, detail: str, per_client: bool) -> None:
        super().__init__(detail)
        self.per_client = per_client


@dataclass(eq=False)
class Subscription:
    key: uuid.UUID  # a conversation (visitor stream) or a workspace (owner stream)
    client: str
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    released: bool = False

    async def wait(self, timeout: float) -> None:
        """Until woken (a change, a listener reconnect, shutdown) or `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), timeout)
        self.wake.clear()


class Hub:
    def __init__(self, max_streams: int, max_per_client: int) -> None:
        self.max_streams = max_streams
        self.max_per_client = max_per_client
        self._by_key: dict[uuid.UUID, set[Subscription]] = defaultdict(set)
        self._per_client: dict[str, int] = defaultdict(int)
        self._open = 0
        self.closing = False

    @property
    def open_streams(self) -> int:
        return self._open

    def open(self, key: uuid.UUID, client: str) -> Subscription:
        """One open stream of `client` (a visitor's conversation, an owner) on `key`; the
        caller must `release` it, whatever happens to the stream."""
        if self.closing:
            raise TooManyStreams("This server is shutting down, reconnect shortly", False)
        if self._open >= self.max_streams:
            raise TooManyStreams("Too many open streams on this server, retry shortly", False)
        if self._per_client[client] >= self.max_per_client:
            raise TooManyStreams(
                f"At most {self.max_per_client} open streams per visitor or owner", True
            )
        subscription = Subscription(key, client)
        self._open += 1
        self._per_client[client] += 1
        self._by_key[key].add(subscription)
        return subscription

    def release(self, subscription: Subscription) -> None:
        if subscription.released:
            return
        subscription.released = True
        self._open -= 1
        self._per_client[subscription.client] -= 1
        if not self._per_client[subscription.client]:
            del self._per_client[subscription.client]
        subscribers = self._by_key[subscription.key]
        subscribers.discard(subscription)
        if not subscribers:
            del self._by_key[subscription.key]

    def notify(self, *keys: uuid.UUID | None) -> None:
        for key in keys:
            if key is not None:
                for subscription in self._by_key.get(key, ()):
                    subscription.wake.set()

    def wake_all(self) -> None:
        """After a listener reconnect: notifications may have been missed, everyone reads."""
        for subscriptions in self._by_key.values():
            for subscription in subscriptions:
                subscription.wake.set()

    def close(self) -> None:
        """Shutdown: streams end (browsers reconnect to another replica)."""
        self.closing = True
        for subscriptions in self._by_key.values():
            for subscription in subscriptions:
                subscription.closed = True
                subscription.wake.set()
