"""A queue consumed with aio-pika directly, each delivery handled in a task of its own.

FastStream's consume path (its middlewares, dependency injection, decoding and logging
around every message) took about 1.5 ms of CPU per message in a profile of the agent under
load, a large share of a short handler's own work. A hot consumer that handles one message
at a time, but many at once, takes this instead:

- `prefetch` deliveries unacknowledged at most, each handled concurrently (aiormq runs
  every delivery's callback as a task), so a slow message holds one slot, not the queue;
- each delivery is acknowledged when its handler returns, one by one, in whatever order
  they finish;
- a handler that raises is nacked back to the queue after a short pause (RabbitMQ
  redelivers at once), until the queue's delivery limit dead-letters it; a body that is not
  an envelope can never succeed and is dead-lettered at once;
- a consume span per delivery (`<exchange>.<key> process`, child of the publish) and one log
  line per delivery, as the FastStream consumers have.

The queue, channel and lifecycle are every direct consumer's (`shared.queue_consumer`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from aio_pika.abc import AbstractIncomingMessage
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from shared import telemetry
from shared.batches import message_traceparent
from shared.consuming import EVENTS_CONSUMED, handler_failed
from shared.events import Envelope, Event, parse_envelope, routing_key
from shared.logging import event_id_var
from shared.queue_consumer import QueueConsumer

if TYPE_CHECKING:
    from faststream.rabbit import RabbitQueue

    from shared.bus import Bus

log = logging.getLogger(__name__)
consumed_log = logging.getLogger("consumer")

TaskHandler = Callable[[Envelope, Mapping[str, Any]], Awaitable[None]]  # (envelope, headers)


class TaskConsumer(QueueConsumer):
    def __init__(
        self,
        bus: Bus,
        queue: RabbitQueue,
        event_type: str,
        handle: TaskHandler,
        *,
        prefetch: int,
        name: str | None = None,
    ) -> None:
        super().__init__(
            bus,
            queue,
            event_type,
            prefetch=prefetch,
            operation=name if name is not None else str(getattr(handle, "__name__", "each")),
            description="Each message handled in a task of its own (shared/task_consumer.py).",
        )
        self.handle = handle
        self._span_name = f"{bus.exchange.name}.{queue.routing()} process"
        self._handling = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def _run(self) -> None:
        """Nothing to gather: wait to be stopped, then for the deliveries in hand."""
        while not self._stopping:
            self._arrived.clear()
            await self._arrived.wait()
        await self._idle.wait()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._handling += 1
        self._idle.clear()
        try:
            await self._consume(message)
        finally:
            self._handling -= 1
            if not self._handling:
                self._idle.set()

    async def _consume(self, message: AbstractIncomingMessage) -> None:
        service = self.bus.service
        try:
            envelope = parse_envelope(message.body)
        except (ValidationError, ValueError):
            log.error("not an envelope; dead-lettering", extra={"queue": self.name})
            EVENTS_CONSUMED.labels(service, self.event_type, "dead_lettered").inc()
            await _settle(message.reject(requeue=False))
            return
        headers = message.headers or {}
        event_token = event_id_var.set(str(envelope.event_id))
        started = time.perf_counter()
        outcome = "failed"
        try:
            with telemetry.span(
                self._span_name,
                kind=SpanKind.CONSUMER,
                remote_parent=message_traceparent(message, envelope),
                remote=True,
                attributes={
                    "messaging.system": "rabbitmq",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": self.name,
                },
            ):
                try:
                    await self.handle(envelope, headers)
                except Exception:
                    failure = handler_failed(
                        headers,
                        self.bus.settings.consumer_delivery_limit,
                        service=service,
                        event_type=envelope.type,
                        queue=self.name,
                    )
                    outcome = failure.outcome
                    await asyncio.sleep(failure.pause)
                    await _settle(message.nack(requeue=True))
                else:
                    outcome = "ok"
                    await _settle(message.ack())
                    EVENTS_CONSUMED.labels(service, envelope.type, outcome).inc()
        finally:
            consumed_log.info(
                "consumed %s",
                self.event_type,
                extra={
                    "event_type": self.event_type,
                    "outcome": outcome,
                    "redelivered": bool(message.redelivered),
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            event_id_var.reset(event_token)


async def _settle(done: Awaitable[None]) -> None:
    """Ack or nack; a channel lost meanwhile returns the delivery to the queue by itself."""
    try:
        await done
    except Exception:
        log.warning("could not settle a delivery; the broker will redeliver it", exc_info=True)


def subscribe_tasks(
    bus: Bus, event: type[Event], handle: TaskHandler, consumer: str | None = None
) -> TaskConsumer:
    """Like `Bus.subscribe_batch`: the event's queue for `consumer`, each message handled in
    a task of its own, up to the bus's `CONSUMER_PREFETCH` at once; started with the bus."""
    queue = bus.consumer_queue(routing_key(event), consumer)
    tasks = TaskConsumer(bus, queue, event.TYPE, handle, prefetch=bus.settings.consumer_prefetch)
    bus.queue_consumers.append(tasks)
    return tasks
