"""RabbitMQ topology and the safe defaults from our verified notes.

- one durable topic exchange for domain events, one for dead letters;
- every consumer gets its own quorum queue per event type, with a delivery limit and a DLQ;
- `NACK_ON_ERROR`, so a failing message is retried a bounded number of times, then dead-lettered;
- explicit prefetch on a channel of its own, so publisher-side channel errors don't bounce
  consumers;
- every publish persistent, with `message_id = event_id`, and bounded in time.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aiormq.abc import DeliveredMessage
from faststream import AckPolicy
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
)
from faststream.rabbit.annotations import RabbitMessage
from pamqp.common import FieldValue
from prometheus_client import Counter

from shared import telemetry
from shared.batches import BatchConsumer, BatchHandler, OneHandler
from shared.confirms import ConfirmChannel, Message, Returned
from shared.consuming import EVENTS_CONSUMED, handler_failed
from shared.events import Envelope, Event, parse_envelope, routing_key
from shared.logging import event_id_var
from shared.queue_consumer import QueueConsumer
from shared.settings import ServiceSettings
from shared.tracing import traceparent_var

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_SECONDS = 5.0
MESSAGES_PUBLISHED = Counter(
    "bus_messages_published_total",
    "Messages confirmed by the broker (relayed events and direct hand-offs such as webhooks)",
    ["service", "type"],
)


class Unroutable(Exception):
    """The broker returned a mandatory message: no queue is bound for it."""


def broker_url(url: str, connection_name: str) -> str:
    """Add heartbeat (dead-peer detection) and a connection name unless already set."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("heartbeat", "10")
    query.setdefault("name", connection_name)
    return urlunsplit(parts._replace(query=urlencode(query)))


class Bus:
    """Topology and broker for one service. Build once per app; tests use their own names."""

    def __init__(self, settings: ServiceSettings, service: str) -> None:
        self.settings = settings
        self.service = service
        self.exchange = RabbitExchange(
            settings.events_exchange, type=ExchangeType.TOPIC, durable=True
        )
        self.dlx = RabbitExchange(
            f"{settings.events_exchange}.dlx", type=ExchangeType.TOPIC, durable=True
        )
        self.consume_channel = Channel(prefetch_count=settings.consumer_prefetch)
        self.broker = RabbitBroker(
            broker_url(settings.rabbitmq_url, f"{service}-svc"),
            reconnect_interval=2,
            timeout=5,
            fail_fast=True,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            default_channel=Channel(on_return_raises=True),
            graceful_timeout=15.0,
            logger=logging.getLogger(f"{service}.bus"),
            log_level=logging.DEBUG,
            description=f"Base Platform {service} service",
        )
        self.dead_letter_queues: list[RabbitQueue] = []
        self.queue_names: list[str] = []
        # Consumers that take their deliveries themselves (shared.queue_consumer).
        self.queue_consumers: list[QueueConsumer] = []
        self.stored = StoredPublisher(self)

    # -- names -----------------------------------------------------------------------------

    def queue_name(self, consumer: str, key: str) -> str:
        return f"{self.settings.queue_prefix}{consumer}.{key}"

    def consumer_queue(self, key: str, consumer: str | None = None) -> RabbitQueue:
        name = self.queue_name(consumer or self.service, key)
        dlq = RabbitQueue(f"{name}.dlq", queue_type=QueueType.QUORUM, routing_key=name)
        self.dead_letter_queues.append(dlq)
        self.queue_names += [name, dlq.name]
        return RabbitQueue(
            name,
            queue_type=QueueType.QUORUM,
            routing_key=key,
            arguments={
                "x-dead-letter-exchange": self.dlx.name,
                "x-dead-letter-routing-key": name,
                "x-delivery-limit": self.settings.consumer_delivery_limit,
            },
        )

    # -- consuming -------------------------------------------------------------------------

    def subscribe(
        self,
        event: type[Event],
        handler: Callable[[Envelope], Awaitable[None]],
        consumer: str | None = None,
    ) -> Any:
        """Register `handler(envelope)` for one event type on this service's own queue.

        A failure is logged, delayed a little (RabbitMQ redelivers at once) and re-raised, so
        the message is nacked and retried until the delivery limit sends it to the DLQ.
        """
        queue = self.consumer_queue(routing_key(event), consumer)

        async def on_message(body: dict[str, Any]) -> None:
            envelope = parse_envelope(body)
            token = event_id_var.set(str(envelope.event_id))
            trace_token = traceparent_var.set(telemetry.continued(envelope.traceparent))
            # The message is read from the broker's context rather than injected as a
            # `msg: RabbitMessage` parameter: that context field is resolved by a sync
            # function, which fast_depends runs in a worker thread on every message.
            msg: RabbitMessage | None = self.broker.context.get_local("message")
            headers = (msg.headers if msg is not None else None) or {}
            try:
                await handler(envelope)
                EVENTS_CONSUMED.labels(self.service, envelope.type, "ok").inc()
            except Exception:
                failure = handler_failed(
                    headers,
                    self.settings.consumer_delivery_limit,
                    service=self.service,
                    event_type=envelope.type,
                    queue=queue.name,
                )
                await asyncio.sleep(failure.pause)
                raise  # NACK_ON_ERROR hands it back
            finally:
                event_id_var.reset(token)
                traceparent_var.reset(trace_token)

        on_message.__name__ = getattr(handler, "__name__", "on_message")
        on_message.__doc__ = handler.__doc__
        return self.broker.subscriber(
            queue,
            self.exchange,
            channel=self.consume_channel,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            title=f"{queue.name}:{on_message.__name__}",
        )(on_message)

    def subscribe_batch(
        self,
        event: type[Event],
        handle_batch: BatchHandler,
        handle_one: OneHandler,
        *,
        size: int,
        wait_seconds: float,
        consumer: str | None = None,
    ) -> BatchConsumer:
        """Like `subscribe`, on the same queue, but what arrives together is handed over as
        one list (`shared.batches`); `handle_one` takes each alone when a batch fails."""
        queue = self.consumer_queue(routing_key(event), consumer)
        batches = BatchConsumer(
            self, queue, event.TYPE, handle_batch, handle_one, size=size, wait_seconds=wait_seconds
        )
        self.queue_consumers.append(batches)
        return batches

    def consumed_queues(self) -> list[RabbitQueue]:
        """Every queue this bus consumes: FastStream's subscribers and the batch consumers."""
        queues: list[RabbitQueue] = [
            sub.queue  # type: ignore[attr-defined]  # a RabbitSubscriber's queue
            for sub in self.broker.subscribers
        ]
        return queues + [batches.queue for batches in self.queue_consumers]

    def documented_brokers(self) -> list[RabbitBroker]:
        """The broker, and for batch consumers (which FastStream does not run) a broker that is
        never connected, holding a subscriber per batch queue so the AsyncAPI document shows it."""
        if not self.queue_consumers:
            return [self.broker]
        described = RabbitBroker(description=f"Base Platform {self.service} service")
        for batches in self.queue_consumers:

            async def on_message(body: dict[str, Any]) -> None:  # documentation only
                pass

            on_message.__name__ = batches.operation
            # How the consumer takes its messages (in batches, each in a task...), as it says.
            on_message.__doc__ = batches.description
            described.subscriber(
                batches.queue,
                self.exchange,
                channel=self.consume_channel,
                title=f"{batches.name}:{on_message.__name__}",
            )(on_message)
        return [self.broker, described]

    async def declare_dead_letter_queues(self) -> None:
        """Nobody subscribes to a DLQ, so nobody would declare it: do it at start."""
        dlx = await self.broker.declare_exchange(self.dlx)
        for dlq in self.dead_letter_queues:
            queue = await self.broker.declare_queue(dlq)
            await queue.bind(dlx, routing_key=dlq.routing())

    async def start(self) -> None:
        await self.broker.start()
        await self.broker.declare_exchange(self.exchange)
        await self.declare_dead_letter_queues()
        connection = self.broker._connection  # FastStream 0.7.8's robust aio-pika connection
        assert connection is not None
        for batches in self.queue_consumers:
            await batches.start(connection)

    async def stop(self) -> None:
        try:
            for batches in self.queue_consumers:
                await batches.stop(timeout=15.0)
            await self.stored.close()
        finally:
            await self.broker.stop()

    async def consumers_alive(self, timeout: float = 1.0) -> bool:
        if not await consumers_alive(self.broker, timeout):
            return False
        for batches in self.queue_consumers:
            if not await batches.alive(timeout):
                return False
        return True

    # -- publishing ------------------------------------------------------------------------

    async def publish(
        self, envelope: Envelope | dict[str, Any], *, mandatory: bool = False
    ) -> None:
        """Persistent, confirmed, bounded publish of one envelope.

        `mandatory=True` turns "no queue bound" into `Unroutable` (used for commands such as
        inbound messages, which must land somewhere before we acknowledge the provider).
        """
        env = envelope if isinstance(envelope, Envelope) else Envelope.model_validate(envelope)
        if telemetry.tracer() is not None:  # through FastStream, for the publish span
            await self.publish_stored(env.model_dump(mode="json"), mandatory=mandatory)
            return
        [error] = await self.stored.publish([StoredEvent.of(env)], mandatory=mandatory)
        if error is not None:
            raise error

    async def publish_stored(self, body: dict[str, Any], *, mandatory: bool = False) -> None:
        """Publish an envelope as `Envelope.model_dump(mode="json")` gave it (an outbox row),
        without building the model again: the relay's path, once per event."""
        event_type, version = body["type"], body["version"]
        routing = f"{event_type}.v{version}"
        traceparent = body.get("traceparent")
        headers: dict[str, FieldValue] = {"event_type": event_type, "version": version}
        if traceparent:
            headers["traceparent"] = traceparent
        # Tracing on: the publish span is a child of the span that emitted the event.
        with telemetry.attached(traceparent):
            async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
                result = await self.broker.publish(
                    body,
                    exchange=self.exchange,
                    routing_key=routing,
                    persist=True,
                    mandatory=mandatory,
                    message_id=body["event_id"],
                    correlation_id=body.get("correlation_id") or body["event_id"],
                    message_type=event_type,
                    headers=headers,
                )
        if isinstance(result, DeliveredMessage):
            raise Unroutable(routing)
        MESSAGES_PUBLISHED.labels(self.service, event_type).inc()


class StoredPublisher:
    """Publishes outbox rows as stored (their JSON text), many at once, each confirmed, on a
    connection of its own (`shared.confirms`): a batch's frames go out in one write and every
    confirm is awaited together. The relay publishes thousands of events a second and every
    webhook waits for its own confirm; through FastStream and aio-pika each publish was most
    of that CPU. With tracing on, the relay uses `Bus.publish_stored` (a span per publish)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.channel = ConfirmChannel(
            broker_url(bus.settings.rabbitmq_url, f"{bus.service}-svc-publish"),
            name=f"{bus.service}-svc-publish",
            timeout=PUBLISH_TIMEOUT_SECONDS,
        )

    async def publish(
        self, rows: list[StoredEvent], *, mandatory: bool = False
    ) -> list[BaseException | None]:
        """Publish every row; for each, None once the broker confirmed it, else the error
        (`Unroutable` for a mandatory one that no queue took)."""
        pending = [self._publish(row, mandatory) for row in rows]
        results: list[BaseException | None]
        if len(pending) == 1:  # a webhook's one message: no task to gather it in
            try:
                await pending[0]
                results = [None]
            except Exception as exc:
                results = [exc]
        else:
            results = await asyncio.gather(*pending, return_exceptions=True)
        outcome: list[BaseException | None] = []
        confirmed: collections.Counter[str] = collections.Counter()
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, Returned):  # no queue is bound
                outcome.append(Unroutable(row.routing_key))
            elif isinstance(result, BaseException):
                outcome.append(result)
            else:
                confirmed[row.event_type] += 1
                outcome.append(None)
        # Once per event type, not per row: a labelled child's lookup took a tenth of the
        # relay's CPU per event.
        for event_type, count in confirmed.items():
            MESSAGES_PUBLISHED.labels(self.bus.service, event_type).inc(count)
        return outcome

    async def _publish(self, row: StoredEvent, mandatory: bool) -> None:
        message = Message(
            body=row.body,
            routing_key=row.routing_key,
            message_id=row.event_id,
            correlation_id=row.correlation_id or row.event_id,
            message_type=row.event_type,
            headers=row.headers(),
        )
        await self.channel.publish(message, exchange=self.bus.exchange.name, mandatory=mandatory)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.channel.close()


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An outbox row as the relay reads it: the envelope's JSON and what the headers carry."""

    event_id: str
    event_type: str
    version: int
    routing_key: str
    body: bytes
    correlation_id: str | None = None
    traceparent: str | None = None

    @classmethod
    def of(cls, envelope: Envelope) -> StoredEvent:
        """An envelope not stored yet, as the outbox would hold it."""
        return cls(
            event_id=str(envelope.event_id),
            event_type=envelope.type,
            version=envelope.version,
            routing_key=envelope.routing_key,
            body=envelope.model_dump_json().encode(),
            correlation_id=envelope.correlation_id,
            traceparent=envelope.traceparent,
        )

    def headers(self) -> dict[str, str | int]:
        headers: dict[str, str | int] = {"event_type": self.event_type, "version": self.version}
        if self.traceparent:
            headers["traceparent"] = self.traceparent
        return headers


async def consumers_alive(broker: RabbitBroker, timeout: float = 1.0) -> bool:
    """True when every subscriber still has a live consumer on the broker.

    `broker.ping()` stays True while a consumer is dead, so readiness checks this too. Uses
    private attributes of FastStream 0.7.8, which is why that version is pinned.
    """
    for sub in broker.subscribers:
        queue = getattr(sub, "_queue_obj", None)
        tag = getattr(sub, "_consumer_tag", None)
        if queue is None or tag is None or queue.channel.is_closed:
            return False
        try:
            raw = await asyncio.wait_for(queue.channel.get_underlay_channel(), timeout)
        except Exception:
            return False
        if raw.is_closed or tag not in raw.consumers:
            return False
    return True
