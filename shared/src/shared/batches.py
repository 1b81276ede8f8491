"""Consuming a queue in batches: what arrived together is handled in one transaction.

FastStream's RabbitMQ subscriber hands over one message at a time (it has no batch mode for
RabbitMQ), so a hot path that wants one transaction for many messages consumes with aio-pika
directly, on the broker's own robust connection (it reconnects and restores the consumer):

- `prefetch_count = size`, so at most one batch is unacknowledged;
- the first delivery starts a batch; whatever else is already there, or arrives within
  `wait_seconds`, joins it, up to `size`. Under load, deliveries pile up while a batch is
  handled, so batches grow by themselves; when idle, a lone message waits `wait_seconds`;
- `handle_batch(envelopes)` runs once; after it returns the batch is acknowledged with one
  `basic.ack(multiple)`. If it raises, each message is handled alone by `handle_one` (its own
  transaction), acknowledged or nacked by itself: one poison message is retried and
  dead-lettered by the queue's delivery limit, the others are stored;
- a body that is not an envelope can never succeed: it is dead-lettered at once.

The queue, channel and lifecycle are every direct consumer's (`shared.queue_consumer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aio_pika.abc import AbstractIncomingMessage
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from shared import telemetry
from shared.consuming import EVENTS_CONSUMED, Failure, handler_failed
from shared.events import Envelope, parse_envelope
from shared.logging import event_id_var
from shared.queue_consumer import QueueConsumer

if TYPE_CHECKING:
    from faststream.rabbit import RabbitQueue

    from shared.bus import Bus

log = logging.getLogger(__name__)
consumed_log = logging.getLogger("consumer")

BatchHandler = Callable[[list[Envelope]], Awaitable[None]]
OneHandler = Callable[[Envelope], Awaitable[None]]


class BatchConsumer(QueueConsumer):
    def __init__(
        self,
        bus: Bus,
        queue: RabbitQueue,
        event_type: str,
        handle_batch: BatchHandler,
        handle_one: OneHandler,
        *,
        size: int,
        wait_seconds: float,
    ) -> None:
        super().__init__(
            bus,
            queue,
            event_type,
            prefetch=size,  # at most one batch unacknowledged
            operation=str(getattr(handle_batch, "__name__", "on_message")),
            description=handle_batch.__doc__ or "Consumed in batches (shared.batches).",
        )
        self.handle_batch = handle_batch
        self.handle_one = handle_one
        self.size = size
        self.wait_seconds = wait_seconds
        self._buffer: list[AbstractIncomingMessage] = []

    # -- batching --------------------------------------------------------------------------

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._buffer.append(message)
        self._arrived.set()

    async def _next_batch(self) -> list[AbstractIncomingMessage]:
        while not self._buffer:
            if self._stopping:
                return []
            self._arrived.clear()
            await self._arrived.wait()
        if len(self._buffer) < self.size and self.wait_seconds > 0 and not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.wait_seconds):
                    while len(self._buffer) < self.size and not self._stopping:
                        self._arrived.clear()
                        await self._arrived.wait()
        batch, self._buffer = self._buffer[: self.size], self._buffer[self.size :]
        return batch

    async def _run(self) -> None:
        while True:
            batch = await self._next_batch()
            if not batch:
                return
            try:
                await self._handle(batch)
            except Exception:  # never let the loop die: the messages stay unacked
                log.exception("batch consumer failed to settle a batch", extra={"queue": self.name})

    async def _handle(self, batch: list[AbstractIncomingMessage]) -> None:

        started = time.perf_counter()
        service = self.bus.service
        parsed: list[tuple[AbstractIncomingMessage, Envelope]] = []
        for message in batch:
            try:
                parsed.append((message, parse_envelope(message.body)))
            except (ValidationError, ValueError):
                log.error("not an envelope; dead-lettering", extra={"queue": self.name})
                EVENTS_CONSUMED.labels(service, self.event_type, "dead_lettered").inc()
                await message.reject(requeue=False)
        if not parsed:
            return
        # One consume span for the batch: a child of its first message's publish (a batch of
        # one is one trace from the webhook on), linked to every message's. Tracing off, the
        # log line still carries the first message's trace id.
        traceparents = [message_traceparent(message, envelope) for message, envelope in parsed]
        event_token = event_id_var.set(str(parsed[0][1].event_id) if len(parsed) == 1 else None)
        try:
            with telemetry.span(
                f"{self.bus.exchange.name}.{self.queue.routing()} process",
                kind=SpanKind.CONSUMER,
                remote_parent=traceparents[0],
                remote=True,
                attributes={
                    "messaging.system": "rabbitmq",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": self.name,
                    "messaging.batch.message_count": len(parsed),
                },
                links=telemetry.links_to(traceparents),
            ):
                outcome = "ok"
                try:
                    await self.handle_batch([envelope for _, envelope in parsed])
                except Exception:
                    outcome = "one_by_one"
                    log.warning(
                        "batch of %d failed; handling each alone",
                        len(parsed),
                        exc_info=True,
                        extra={"queue": self.name},
                    )
                    await self._one_by_one(parsed)
                else:
                    await parsed[-1][0].ack(multiple=True)
                    EVENTS_CONSUMED.labels(service, self.event_type, "ok").inc(len(parsed))
                consumed_log.info(
                    "consumed %d %s",
                    len(parsed),
                    self.event_type,
                    extra={
                        "event_type": self.event_type,
                        "outcome": outcome,
                        "batch": len(parsed),
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
        finally:
            event_id_var.reset(event_token)

    async def _one_by_one(self, parsed: list[tuple[AbstractIncomingMessage, Envelope]]) -> None:

        service = self.bus.service
        limit = self.bus.settings.consumer_delivery_limit
        failed: list[tuple[AbstractIncomingMessage, Failure]] = []
        for message, envelope in parsed:
            try:
                await self.handle_one(envelope)
            except Exception:
                failed.append(
                    (
                        message,
                        handler_failed(
                            message.headers,
                            limit,
                            service=service,
                            event_type=self.event_type,
                            queue=self.name,
                        ),
                    )
                )
            else:
                await message.ack()
                EVENTS_CONSUMED.labels(service, self.event_type, "ok").inc()
        if failed:
            await asyncio.sleep(max(f.pause for _, f in failed))
            for message, _ in failed:
                await message.nack(requeue=True)


def message_traceparent(message: AbstractIncomingMessage, envelope: Envelope) -> str | None:
    """The publish span's context (FastStream puts it in the headers), else the envelope's."""
    header = (message.headers or {}).get("traceparent")
    if isinstance(header, bytes):
        header = header.decode()
    return header if isinstance(header, str) else envelope.traceparent
