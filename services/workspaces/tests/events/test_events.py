"""Event flow on the real broker: what this service publishes, and what it consumes."""

import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from sqlalchemy import text

from shared.events import Envelope, UserDeletedV1
from shared.logging import event_id_var
from shared.testing import wait_until


class Tap:
    """A private queue bound to the events exchange, to see what the relay publishes."""

    def __init__(self, queue: aio_pika.abc.AbstractQueue) -> None:
        self.queue = queue
        self.messages: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def drain(self) -> None:
        while (message := await self.queue.get(no_ack=True, fail=False)) is not None:
            self.messages.append(message)

    def envelopes(self, aggregate_id: str) -> list[dict[str, Any]]:
        bodies = [json.loads(m.body) for m in self.messages]
        return [b for b in bodies if b["aggregate_id"] == aggregate_id]

    def types(self, aggregate_id: str) -> list[str]:
        return [e["type"] for e in self.envelopes(aggregate_id)]

    async def wait_for_types(self, aggregate_id: str, expected: list[str]) -> None:
        async def arrived() -> bool:
            await self.drain()
            return self.types(aggregate_id) == expected

        with contextlib.suppress(AssertionError):
            await wait_until(arrived)
        assert self.types(aggregate_id) == expected


@pytest.fixture
async def tap(settings, runtime) -> AsyncIterator[Tap]:
    connection = await aio_pika.connect(settings.rabbitmq_url)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange(settings.events_exchange)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for key in ("workspace.*.v1", "workspace_service.*.v1"):
            await queue.bind(exchange, routing_key=key)
        yield Tap(queue)
    finally:
        await connection.close()


@pytest.fixture
def duplicates_seen() -> AsyncIterator[list[str]]:
    """Event ids the inbox reported as duplicates (it logs each one it skips)."""
    seen: list[str] = []

    class Recorder(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage() == "duplicate event skipped":
                seen.append(str(event_id_var.get()))

    handler = Recorder(level=logging.INFO)
    logger = logging.getLogger("shared.db.inbox")
    logger.addHandler(handler)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)


async def test_workspace_and_service_changes_are_published_through_the_outbox(
    client, new_workspace, tap
) -> None:
    headers, ws = await new_workspace()
    services = "/api/v1/workspace-services/"
    first = (
        await client.post(
            services,
            json={"name": "Cut", "duration_minutes": 30, "price": "12.5", "currency": "USD"},
            headers=headers,
        )
    ).json()
    second = (
        await client.post(services, json={"name": "Color", "duration_minutes": 60}, headers=headers)
    ).json()
    await client.patch(f"{services}{first['id']}", json={"is_active": False}, headers=headers)
    await client.post(
        services + "reorder", json={"ids": [second["id"], first["id"]]}, headers=headers
    )
    await client.delete(f"{services}{second['id']}", headers=headers)
    await client.patch(f"/api/v1/workspaces/{ws['id']}", json={"name": "Renamed"}, headers=headers)
    await client.delete(f"/api/v1/workspaces/{ws['id']}", headers=headers)

    await tap.wait_for_types(
        ws["id"],
        [
            "workspace.created",
            "workspace_service.created",
            "workspace_service.created",
            "workspace_service.updated",  # deactivated
            "workspace_service.updated",  # reorder: both moved
            "workspace_service.updated",
            "workspace_service.deleted",
            "workspace.updated",
            "workspace_service.deleted",  # the remaining service, with its workspace
            "workspace.deleted",
        ],
    )
    envelopes = tap.envelopes(ws["id"])
    created = envelopes[0]
    assert created["producer"] == "workspaces"
    assert created["payload"] == {
        "workspace_id": ws["id"],
        "owner_id": ws["owner_id"],
        "handle": ws["handle"],
        "name": ws["name"],
        "tone": "friendly",
        "timezone": "UTC",
        # No business facts yet: sent all the same, so consumers know they are empty.
        "address": None,
        "map_url": None,
        "phone": None,
        "email": None,
        "payment_methods": [],
        "policies": {"cancellation": None, "lateness": None, "deposit": None},
        "faq": [],
    }
    service_created = envelopes[1]["payload"]
    assert service_created["service_id"] == first["id"]
    # What the agent quotes about a service travels with it.
    assert service_created["price"] == "12.50"
    assert service_created["currency"] == "USD"
    assert service_created["duration_minutes"] == 30
    assert "description" in service_created
    assert envelopes[7]["payload"]["name"] == "Renamed"
    assert envelopes[-1]["payload"] == {
        "workspace_id": ws["id"],
        "owner_id": ws["owner_id"],
        "handle": ws["handle"],
        "name": "Renamed",
        "timezone": "UTC",
    }

    messages = [m for m in tap.messages if json.loads(m.body)["aggregate_id"] == ws["id"]]
    assert all(m.delivery_mode == aio_pika.DeliveryMode.PERSISTENT for m in messages)
    assert [m.message_id for m in messages] == [e["event_id"] for e in envelopes]
    assert messages[0].routing_key == "workspace.created.v1"


async def test_a_failed_write_emits_nothing(client, as_user, new_workspace, outbox_rows) -> None:
    _, taken = await new_workspace()
    headers, ws = await new_workspace()
    response = await client.patch(
        f"/api/v1/workspaces/{ws['id']}", json={"handle": taken["handle"]}, headers=headers
    )
    assert response.status_code == 409
    assert [r.event_type for r in await outbox_rows(ws["id"])] == ["workspace.created"]


async def test_user_deleted_removes_their_workspace_and_emits_workspace_deleted(
    client, new_workspace, runtime, outbox_rows, tap, duplicates_seen
) -> None:
    headers, ws = await new_workspace()
    for name in ("a", "b"):
        await client.post(
            "/api/v1/workspace-services/",
            json={"name": name, "duration_minutes": 15},
            headers=headers,
        )
    user_id = uuid.UUID(ws["owner_id"])
    correlation_id = f"delete-{uuid.uuid4().hex}"
    envelope = Envelope.wrap(
        UserDeletedV1(user_id=user_id), producer="gateway", correlation_id=correlation_id
    )

    await runtime.bus.publish(envelope)

    async def gone() -> bool:
        return (await client.get("/api/v1/workspaces/me", headers=headers)).status_code == 404

    await wait_until(gone)
    deleted = await outbox_rows(ws["id"], "workspace.deleted")
    assert len(deleted) == 1
    assert deleted[0].envelope["payload"]["owner_id"] == str(user_id)
    assert deleted[0].envelope["correlation_id"] == correlation_id
    assert len(await outbox_rows(ws["id"], "workspace_service.deleted")) == 2
    async with runtime.engine.connect() as conn:
        claimed = await conn.scalar(
            text("SELECT count(*) FROM workspaces.inbox WHERE event_id = :e"),
            {"e": envelope.event_id},
        )
    assert claimed == 1
    # And the relay tells the other services.
    await tap.wait_for_types(
        ws["id"],
        [
            "workspace.created",
            "workspace_service.created",
            "workspace_service.created",
            "workspace_service.deleted",
            "workspace_service.deleted",
            "workspace.deleted",
        ],
    )

    # The same user signs up again (same id, in this test) and the old message comes back.
    response = await client.post(
        "/api/v1/workspaces/",
        json={"handle": f"again-{uuid.uuid4().hex[:8]}", "name": "Again", "timezone": "UTC"},
        headers=headers,
    )
    assert response.status_code == 201
    again = response.json()
    await runtime.bus.publish(envelope)

    async def skipped() -> bool:
        return str(envelope.event_id) in duplicates_seen

    await wait_until(skipped)
    assert (await client.get("/api/v1/workspaces/me", headers=headers)).json() == again
    assert len(await outbox_rows(ws["id"], "workspace.deleted")) == 1
    assert await outbox_rows(again["id"], "workspace.deleted") == []


async def test_user_deleted_for_a_user_without_a_workspace_is_recorded_and_changes_nothing(
    runtime,
) -> None:
    envelope = Envelope.wrap(UserDeletedV1(user_id=uuid.uuid4()), producer="gateway")
    await runtime.bus.publish(envelope)

    async def recorded() -> bool:
        async with runtime.engine.connect() as conn:
            return bool(
                await conn.scalar(
                    text("SELECT count(*) FROM workspaces.inbox WHERE event_id = :e"),
                    {"e": envelope.event_id},
                )
            )

    await wait_until(recorded)
    async with runtime.engine.connect() as conn:
        deleted = await conn.scalar(
            text(
                "SELECT count(*) FROM workspaces.outbox WHERE envelope->'payload'->>'owner_id' = :u"
            ),
            {"u": envelope.payload["user_id"]},
        )
    assert deleted == 0


async def test_business_facts_travel_on_workspace_updated(client, new_workspace, tap) -> None:
    headers, ws = await new_workspace()
    response = await client.patch(
        f"/api/v1/workspaces/{ws['id']}",
        json={
            "address": "Calle Mayor 1, Madrid",
            "phone": "+34 912 345 678",
            "payment_methods": ["Cash", "Card"],
            "policies": {"deposit": "20% to book."},
            "faq": [{"question": "Parking?", "answer": "Yes.", "language": "en"}],
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    await tap.wait_for_types(ws["id"], ["workspace.created", "workspace.updated"])
    payload = tap.envelopes(ws["id"])[1]["payload"]
    read = response.json()
    # The event says what the owner reads back, field for field.
    assert payload == {k: read[k] for k in payload if k != "workspace_id"} | {
        "workspace_id": ws["id"]
    }
    assert payload["phone"] == "+34912345678"
    assert payload["map_url"] is None
    assert payload["payment_methods"] == ["Cash", "Card"]
    assert payload["policies"] == {
        "cancellation": None,
        "lateness": None,
        "deposit": "20% to book.",
    }
    assert payload["faq"] == [{"question": "Parking?", "answer": "Yes.", "language": "en"}]
