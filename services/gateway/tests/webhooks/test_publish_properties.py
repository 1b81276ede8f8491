"""A webhook's hand-over (Bus.publish, one confirmed mandatory publish straight to aiormq)
carries the AMQP properties an aio-pika Message built from the same row carries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import aio_pika

from gateway.settings import Settings
from shared.bus import Bus, StoredEvent
from shared.events import Envelope, InboundMessageAcceptedV1

from .conftest import Received


def envelope() -> Envelope:
    item = InboundMessageAcceptedV1(
        channel="whatsapp",
        account_id="pn-props",
        visitor_id="5511999",
        external_id=f"wamid.props.{uuid.uuid4().hex}",
        content="hi",
        sent_at=datetime.now(UTC),
    )
    return Envelope.wrap(item, producer="gateway", correlation_id="req-props")


async def test_a_hand_over_has_the_properties_of_an_aio_pika_message(
    webhook_settings: Settings, webhook_bus: tuple[Bus, Received]
) -> None:
    bus = webhook_bus[0]
    connection = await aio_pika.connect(webhook_settings.rabbitmq_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        exchange = await channel.get_exchange(webhook_settings.events_exchange)
        await queue.bind(exchange, "inbound_message.accepted.v1")
        ours, theirs = envelope(), envelope()
        await bus.publish(ours, mandatory=True)
        row = StoredEvent.of(theirs)
        await exchange.publish(
            aio_pika.Message(
                row.body,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=row.event_id,
                correlation_id=row.correlation_id or row.event_id,
                type=row.event_type,
                headers=row.headers(),
            ),
            routing_key=row.routing_key,
        )
        got = []
        async with queue.iterator() as messages:
            async for message in messages:
                await message.ack()
                got.append(message)
                if len(got) == 2:
                    break
        by_id = {m.message_id: m for m in got}
        mine, reference = by_id[str(ours.event_id)], by_id[str(theirs.event_id)]
        assert mine.body == StoredEvent.of(ours).body
        assert Envelope.model_validate_json(mine.body) == ours

        def properties(message: aio_pika.abc.AbstractIncomingMessage) -> dict[str, object]:
            given = message.properties
            return {key: getattr(given, key) for key in given.__slots__ if key != "message_id"}

        assert properties(mine) == properties(reference)
        assert properties(mine)["content_type"] == "application/json"
        headers = {"event_type": "inbound_message.accepted", "version": 1}
        assert properties(mine)["headers"] == headers
        assert mine.correlation_id == "req-props" and mine.delivery_mode == 2
    finally:
        await connection.close()
