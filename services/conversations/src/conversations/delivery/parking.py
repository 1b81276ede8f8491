"""The parking queue: replies the delivery does not send now, handed back to it a bit later.

A reply is parked when its tenant already uses its share of this process's sends
(delivery/slots.py), or when its provider could not be reached in time (a connect timeout:
nothing was sent, and waiting for another timeout in place would hold a consumer's slot).
Its `message.reply_requested` is published, persistent and confirmed, to
`<delivery queue>.parked` with a per-message expiry; RabbitMQ dead-letters it back into the
delivery queue when it expires (at-least-once dead-lettering), and only then is the original
acknowledged. The row itself stays `pending` meanwhile, so the exactly-once rules of
delivery/service.py are untouched: a copy that comes back twice finds its reply claimed.

The header `x-parked-attempts` counts the sends that were parked for a timeout, so a provider
that never answers ends in `failed` after DELIVERY_MAX_RETRIES instead of circling forever.
"""

from __future__ import annotations

import asyncio

from faststream.rabbit import QueueType, RabbitQueue
from pamqp.common import FieldValue

from shared.bus import PUBLISH_TIMEOUT_SECONDS, Bus
from shared.events import Envelope

ATTEMPTS_HEADER = "x-parked-attempts"


class Parking:
    def __init__(self, bus: Bus, target_queue: str) -> None:
        self.bus = bus
        self.target_queue = target_queue
        self.queue = RabbitQueue(
            f"{target_queue}.parked",
            queue_type=QueueType.QUORUM,
            arguments={
                # The default exchange routes by queue name: straight back to delivery only.
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": target_queue,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",  # required by at-least-once dead-lettering
            },
        )
        bus.queue_names.append(self.queue.name)
        self._declared = False
        self._declaring = asyncio.Lock()

    async def _declare(self) -> None:
        # Lazily: consumers start taking messages before the app's startup hook runs.
        async with self._declaring:
            if not self._declared:
                await self.bus.broker.declare_queue(self.queue)
                self._declared = True

    async def park(self, envelope: Envelope, seconds: float, attempts: int) -> None:
        """Hand this event back to the delivery queue in `seconds`; raises if not confirmed."""
        await self._declare()
        body = envelope.model_dump(mode="json")
        headers: dict[str, FieldValue] = {
            "event_type": envelope.type,
            "version": envelope.version,
            ATTEMPTS_HEADER: attempts,
        }
        if body.get("traceparent"):
            headers["traceparent"] = body["traceparent"]
        async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
            await self.bus.broker.publish(
                body,
                queue=self.queue.name,
                persist=True,
                mandatory=True,
                expiration=seconds,
                message_id=str(envelope.event_id),
                correlation_id=body.get("correlation_id") or str(envelope.event_id),
                message_type=envelope.type,
                headers=headers,
            )
