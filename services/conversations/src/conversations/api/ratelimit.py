"""In-memory sliding-window rate limiter for the public web chat.

Per process: state is lost on restart and not shared between replicas, so with N replicas a
client gets up to N times the limit. Good enough to blunt abuse of a public endpoint; a shared
store (Redis) would be the next step if that stops being enough.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from conversations.domain.errors import RateLimited


class SlidingWindowLimiter:
    def __init__(
        self,
        limit: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self.clock = clock
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> None:
        """Count one request for `key`; raise RateLimited (with Retry-After) over the limit."""
        now = self.clock()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.max_keys:
                self._evict(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            raise RateLimited(max(1, math.ceil(hits[0] + self.window - now)))
        hits.append(now)

    def _evict(self, now: float) -> None:
        stale = [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]
        for key in stale:
            del self._hits[key]
        if len(self._hits) >= self.max_keys:  # still full: forget the oldest half
            for key in list(self._hits)[: self.max_keys // 2]:
                del self._hits[key]


class WebChatLimits:
    """One limiter per visitor (conversation) and one per client address; typing signals,
    frequent by design, are counted apart so they never use up what posting may spend."""

    def __init__(
        self,
        per_visitor: int,
        per_address: int,
        window_seconds: float,
        typing_per_visitor: int = 60,
        typing_per_address: int = 600,
    ) -> None:
        self.visitor = SlidingWindowLimiter(per_visitor, window_seconds)
        self.address = SlidingWindowLimiter(per_address, window_seconds)
        self.typing_visitor = SlidingWindowLimiter(typing_per_visitor, window_seconds)
        self.typing_address = SlidingWindowLimiter(typing_per_address, window_seconds)
