"""When the agent may answer a visitor who may still be writing.

A reply to half a thought costs the visitor a second reply to read, so the agent holds its
turn while more is coming, and only then. Web chat says so: the page signals while the
visitor types, and without a fresh signal typed after their newest message the answer goes
at once. Other channels say nothing of typing: there a short quiet period after the newest
message, restarted by each new one, stands in for it. Both waits are bounded from the
message's arrival, so a visitor who never stops still gets an answer.

All instants come from one clock (the database's), so replicas agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Burst:
    """A visitor message and its conversation, as they stand now."""

    now: datetime
    arrived: datetime  # the message was stored
    newest: datetime  # the conversation's newest visitor message was stored
    typed_at: datetime | None  # the visitor's latest typing signal (web chat)
    answered: bool  # a turn already answered the message


@dataclass(frozen=True, slots=True)
class Waits:
    quiet_seconds: float  # channels without typing: silence that ends a burst
    quiet_max_seconds: float  # ... and the longest a message waits for it
    typing_seconds: float  # web chat: how long one typing signal counts
    typing_max_seconds: float  # ... and the longest a message waits for a typing visitor


def seconds_to_wait(burst: Burst, waits: Waits, *, signals_typing: bool) -> float:
    """How long the turn for this message should still wait; 0 = answer now."""
    if burst.answered:
        return 0.0
    if signals_typing:
        typing = burst.typed_at is not None and burst.typed_at > burst.newest
        if not typing or waits.typing_seconds <= 0:
            return 0.0
        assert burst.typed_at is not None
        until = min(
            burst.typed_at + timedelta(seconds=waits.typing_seconds),
            burst.arrived + timedelta(seconds=waits.typing_max_seconds),
        )
    else:
        if waits.quiet_seconds <= 0:
            return 0.0
        until = min(
            burst.newest + timedelta(seconds=waits.quiet_seconds),
            burst.arrived + timedelta(seconds=waits.quiet_max_seconds),
        )
    return max(0.0, (until - burst.now).total_seconds())
