"""What every consumer of the bus does alike when a handler fails (`bus.py` through
FastStream, `batches.py`, `task_consumer.py`): count it, log it with its traceback, and hand
the delivery back after a short pause, until the queue's delivery limit dead-letters it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from prometheus_client import Counter

log = logging.getLogger("shared.consumer")

EVENTS_CONSUMED = Counter(
    "events_consumed_total",
    "Messages handled by consumers, by outcome (ok, failed and retried, dead_lettered)",
    ["service", "type", "outcome"],
)


@dataclass(frozen=True, slots=True)
class Failure:
    """A delivery whose handler raised."""

    attempts: int  # deliveries before this one (RabbitMQ's `x-delivery-count`)
    last: bool  # the queue's delivery limit dead-letters it when it is handed back

    @property
    def outcome(self) -> Literal["failed", "dead_lettered"]:
        return "dead_lettered" if self.last else "failed"

    @property
    def pause(self) -> float:
        """Seconds to wait before handing it back: RabbitMQ redelivers at once, so a fault
        that passes (a restart, a lock) gets a moment, growing with the attempts."""
        return 0.0 if self.last else retry_pause(self.attempts)


def retry_pause(attempts: int) -> float:
    return min(0.2 * 2.0**attempts, 3.0)


def handler_failed(
    headers: Mapping[str, Any] | None,
    limit: int,
    *,
    service: str,
    event_type: str,
    queue: str,
) -> Failure:
    """Call in the `except` around a handler: counts and logs the failure (with the
    exception being handled) and says what becomes of the delivery."""
    attempts = int(str((headers or {}).get("x-delivery-count") or 0))
    failure = Failure(attempts, attempts >= limit)
    EVENTS_CONSUMED.labels(service, event_type, failure.outcome).inc()
    log.exception(
        "handler failed%s",
        "; dead-lettering" if failure.last else "; will retry",
        extra={"event_type": event_type, "queue": queue, "attempt": attempts},
    )
    return failure
