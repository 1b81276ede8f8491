"""Helpers the library's consumer tests share."""

from __future__ import annotations

import uuid

import aio_pika

from shared.events import Envelope, UserCreatedV1
from shared.settings import ServiceSettings


def envelope_for(user_id: uuid.UUID | None = None) -> Envelope:
    """An envelope of a small event (`user.created`); one per user id."""
    event = UserCreatedV1(user_id=user_id or uuid.uuid4(), email="x@example.com")
    return Envelope.wrap(event, producer="test")


async def queue_counts(settings: ServiceSettings, name: str) -> tuple[int, int]:
    """(ready messages in the queue, messages in its dead-letter queue), as RabbitMQ counts."""
    connection = await aio_pika.connect(settings.rabbitmq_url)
    try:
        channel = await connection.channel()
        main = await channel.declare_queue(name, passive=True)
        dlq = await channel.declare_queue(f"{name}.dlq", passive=True)
        return main.declaration_result.message_count, dlq.declaration_result.message_count
    finally:
        await connection.close()
