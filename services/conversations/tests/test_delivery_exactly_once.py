"""Each reply reaches the provider once, on the real broker: duplicates of its
`message.reply_requested`, racing replicas, and a consumer killed between the provider's
answer and its own commit."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from uuid import UUID

from prometheus_client import REGISTRY

from conversations.db.uow import ConversationsUnitOfWork
from conversations.delivery.service import Delivery
from conversations.events.subscribers import DELIVERY, register_delivery
from conversations.settings import Settings
from conversations.usecases.messages import store_message
from shared.bus import Bus
from shared.crypto import Vault
from shared.events import Envelope, MessageReplyRequestedV1
from shared.testing import delete_bus_names, wait_until
from shared.testing import test_names as fresh_names

from .test_replies import connect, settled, visitor_writes

API = "/api/v1"


async def pending_reply(app, conversation_id: str) -> tuple[UUID, Envelope]:
    """A reply row `pending`, written without its event: the test delivers the event."""
    async with ConversationsUnitOfWork(app.state.runtime.sessionmaker) as uow:
        conversation = await uow.conversations.get_any(UUID(conversation_id))
        message = await store_message(
            uow,
            conversation,
            role="owner",
            content="Your table is ready",
            sent_at=conversation.started_at,
            delivery_status="pending",
        )
        await uow.commit()
    event = MessageReplyRequestedV1(
        message_id=message.id,
        conversation_id=conversation.id,
        workspace_id=conversation.workspace_id,
        channel=conversation.channel,
        role="owner",
    )
    return message.id, Envelope.wrap(event, producer="conversations")


def consumed(outcome: str = "ok") -> float:
    value = REGISTRY.get_sample_value(
        "events_consumed_total",
        {"service": "conversations", "type": "message.reply_requested", "outcome": outcome},
    )
    return value or 0.0


async def test_the_same_reply_requested_five_times_at_once_is_one_provider_request(
    app, client, bus, new_owner, publish, query, providers
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "whatsapp")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    message_id, envelope = await pending_reply(app, conversation_id)
    providers.graph.state.delay = 0.2  # the copies arrive while the first is at the provider
    before = consumed()
    await asyncio.gather(*(bus.publish(envelope, mandatory=True) for _ in range(5)))
    await wait_until(lambda: asyncio.sleep(0, consumed() - before >= 5))
    sent = await settled(client, owner, message_id, "sent")
    assert len(providers.graph.state.to(visitor)) == 1
    assert sent["external_id"].startswith("wamid.")


async def test_five_replicas_racing_for_one_reply_send_it_once(
    app, client, new_owner, publish, query, providers, settings
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "sms")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    message_id, _ = await pending_reply(app, conversation_id)
    vault = Vault(settings.encryption_keys)
    replicas = [Delivery(settings, app.state.runtime.sessionmaker, vault) for _ in range(5)]
    try:
        await asyncio.gather(*(r.deliver(message_id) for r in replicas))
    finally:
        for replica in replicas:
            await replica.stop()
    await settled(client, owner, message_id, "sent")
    assert len(providers.twilio.state.to(visitor)) == 1


async def test_a_consumer_killed_after_the_provider_answered_never_sends_twice(
    app, client, new_owner, publish, query, providers, settings
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "whatsapp")
    conversation_id, visitor = await visitor_writes(publish, query, account)
    message_id, envelope = await pending_reply(app, conversation_id)

    names = fresh_names("crash")  # its own exchange and queues: only the crashing process
    crash_settings = Settings(
        database_url=settings.database_url,
        events_exchange=names["events_exchange"],
        queue_prefix=names["queue_prefix"],
        graph_api_base_url=providers.graph.url,
    )
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "RABBITMQ_URL": settings.rabbitmq_url,
        "EVENTS_EXCHANGE": crash_settings.events_exchange,
        "QUEUE_PREFIX": crash_settings.queue_prefix,
        "GRAPH_API_BASE_URL": providers.graph.url,
        "LOG_JSON": "false",
    }
    script = Path(__file__).with_name("crash_delivery.py")
    process = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True
    )
    publisher = Bus(crash_settings, "publisher")
    healthy_bus = Bus(crash_settings, "conversations")
    healthy = Delivery(
        crash_settings, app.state.runtime.sessionmaker, Vault(settings.encryption_keys)
    )
    try:
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
        assert line.strip() == "ready"
        await publisher.start()
        await publisher.publish(envelope, mandatory=True)
        code = await asyncio.wait_for(asyncio.to_thread(process.wait), 30)
        assert code == 17, "the consumer should have died before recording the send"
        assert len(providers.graph.state.to(visitor)) == 1  # the provider has it
        (row,) = await query(
            "SELECT delivery_status FROM conversations.messages WHERE id = :id", id=message_id
        )
        assert row.delivery_status == "sending"

        # A healthy consumer gets the unacknowledged message again and must not resend it.
        before = consumed()
        register_delivery(SimpleNamespace(bus=healthy_bus), healthy)
        await healthy_bus.start()
        await wait_until(lambda: asyncio.sleep(0, consumed() > before))
        assert len(providers.graph.state.to(visitor)) == 1

        # The sweep ends it as unknown: visible to the owner, never resent by itself.
        assert await healthy.sweep(stale_seconds=0) >= 1
        unknown = await settled(client, owner, message_id, "unknown")
        assert "not resent automatically" in unknown["delivery_error"]
        assert len(providers.graph.state.to(visitor)) == 1
    finally:
        if process.poll() is None:
            process.kill()
        await healthy.stop()
        await healthy_bus.stop()
        await publisher.stop()
        queues = [healthy_bus.queue_name(DELIVERY, "message.reply_requested.v1")]
        await delete_bus_names(
            settings.rabbitmq_url,
            crash_settings.events_exchange,
            queues + [f"{q}.dlq" for q in queues],
        )
