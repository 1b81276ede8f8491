"""Sends per second per channel account, so a burst waits its turn instead of failing.

In memory and per process: each account's sends are spaced `1/rate` apart. With N delivery
replicas an account may see up to N times the rate; providers' documented limits (WhatsApp
80 mps, Twilio long code 1 segment/s) absorb short overruns by queueing or answering 429,
which the sender retries.
"""

from __future__ import annotations

import asyncio
import time


class Pacer:
    def __init__(self) -> None:
        self._next: dict[str, float] = {}

    async def wait_turn(self, key: str, rate: float) -> float:
        """Sleep until this key's next slot; returns the seconds waited."""
        now = time.monotonic()
        slot = max(now, self._next.get(key, now))
        self._next[key] = slot + 1.0 / rate
        if len(self._next) > 10_000:  # forget accounts idle for a while
            self._next = {k: v for k, v in self._next.items() if v > now}
        wait = slot - now
        if wait > 0:
            await asyncio.sleep(wait)
        return wait
