"""A queue consumed with aio-pika directly, on the bus's robust connection.

FastStream's RabbitMQ subscriber hands over one message at a time and awaits it, through its
middlewares and dependency injection. The hot consumers take their deliveries themselves
instead, two ways: in batches (`shared.batches`) or each in a task of its own
(`shared.task_consumer`). What they share is here: the queue exactly as `Bus.consumer_queue`
declares it (name, arguments, bindings and dead-letter queue, so switching a consumer keeps
its backlog), a channel of its own with `prefetch` deliveries unacknowledged at most, the
lifecycle (started and stopped with the bus, the deliveries in hand finished first), health
for readiness, and what the AsyncAPI document says of it.

A subclass says what happens to a delivery (`_on_message`, called by aiormq as a task per
delivery) and what runs beside the deliveries until the consumer stops (`_run`; it returns
once `_stopping` is set and `_arrived` wakes it, with its work done).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from aio_pika import ExchangeType as PikaExchangeType
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

if TYPE_CHECKING:
    from faststream.rabbit import RabbitQueue

    from shared.bus import Bus

log = logging.getLogger(__name__)


class QueueConsumer:
    def __init__(
        self,
        bus: Bus,
        queue: RabbitQueue,
        event_type: str,
        *,
        prefetch: int,
        operation: str,
        description: str,
    ) -> None:
        self.bus = bus
        self.queue = queue
        self.event_type = event_type
        self.prefetch = prefetch
        # The AsyncAPI document's operation (the handler's name) and how it consumes.
        self.operation = operation
        self.description = description
        self.channel: AbstractChannel | None = None
        self.consumer_tag: str | None = None
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._amqp_queue: Any = None

    @property
    def name(self) -> str:
        return self.queue.name

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        raise NotImplementedError

    async def _run(self) -> None:
        raise NotImplementedError

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, connection: AbstractRobustConnection) -> None:
        self._stopping = False
        self.channel = await connection.channel()
        await self.channel.set_qos(prefetch_count=self.prefetch)
        exchange = await self.channel.declare_exchange(
            self.bus.exchange.name, PikaExchangeType.TOPIC, durable=True
        )
        arguments = dict(self.queue.arguments or {})
        arguments["x-queue-type"] = "quorum"
        queue = await self.channel.declare_queue(self.name, durable=True, arguments=arguments)
        await queue.bind(exchange, routing_key=self.queue.routing())
        self._amqp_queue = queue
        self.consumer_tag = await queue.consume(self._on_message)
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self.name}")

    async def stop(self, timeout: float) -> None:
        """No new deliveries; what was already delivered is handled (within `timeout`), then
        the channel closes (anything left goes back to the queue)."""
        self._stopping = True
        queue, tag, self._amqp_queue, self.consumer_tag = (
            self._amqp_queue,
            self.consumer_tag,
            None,
            None,
        )
        if queue is not None and tag is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(timeout):
                    await queue.cancel(tag)
        self._arrived.set()
        if self._task is not None:
            try:
                async with asyncio.timeout(timeout):
                    await self._task
            except TimeoutError:
                log.warning("consumer stopped with deliveries in hand", extra={"queue": self.name})
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        self._task = None
        channel, self.channel = self.channel, None
        if channel is not None and not channel.is_closed:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(timeout):
                    await channel.close()

    async def alive(self, timeout: float = 1.0) -> bool:
        channel = self.channel
        if channel is None or channel.is_closed or self.consumer_tag is None:
            return False
        if self._task is None or self._task.done():
            return False
        try:
            raw: Any = await asyncio.wait_for(channel.get_underlay_channel(), timeout)
        except Exception:
            return False
        return not raw.is_closed and self.consumer_tag in raw.consumers
