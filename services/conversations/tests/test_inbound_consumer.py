"""The `inbound_message.accepted` consumer on the real broker and database."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from shared.events import Envelope
from shared.testing import wait_until

from .fakes import PAGE_TOKEN, WHATSAPP_TOKEN


async def messages_of(query, workspace_id):
    return await query(
        "SELECT m.external_id, m.content, m.role, c.id AS conversation_id, c.message_count "
        "FROM conversations.messages m JOIN conversations.conversations c "
        "ON c.id = m.conversation_id WHERE m.workspace_id = :ws ORDER BY m.sent_at, m.id",
        ws=workspace_id,
    )


async def connect_account(client, owner, channel: str, account_id: str) -> None:
    """A verified account: only those route (the fake Graph API reads any unclaimed id)."""
    token = {"whatsapp": {"access_token": WHATSAPP_TOKEN}}.get(
        channel, {"page_access_token": PAGE_TOKEN}
    )
    response = await client.post(
        "/api/v1/channel-accounts/",
        json={"channel": channel, "account_id": account_id, "credentials": token},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["verification"] == "verified", response.text


async def test_message_opens_a_conversation_and_emits_started_and_received(
    client, query, new_owner, publish, inbound
) -> None:
    owner = await new_owner()
    account = f"pn-{uuid4().hex}"
    await connect_account(client, owner, "whatsapp", account)
    event = inbound(account_id=account, visitor_name="Ana", content="Do you open on Sunday?")
    await publish(event)

    rows = await wait_until(lambda: messages_of(query, owner.workspace_id))
    assert [(r.external_id, r.content, r.role, r.message_count) for r in rows] == [
        (event.external_id, "Do you open on Sunday?", "visitor", 1)
    ]
    conversation_id = rows[0].conversation_id
    outbox = await query(
        "SELECT event_type FROM conversations.outbox WHERE aggregate_id = :id ORDER BY id",
        id=str(conversation_id),
    )
    assert [r.event_type for r in outbox] == ["conversation.started", "message.received"]
    conv = (
        await client.get(f"/api/v1/conversations/{conversation_id}", headers=owner.headers)
    ).json()
    assert conv["channel"] == "whatsapp"
    assert conv["visitor_id"] == event.visitor_id
    assert conv["visitor_name"] == "Ana"
    assert conv["status"] == "open"


async def test_provider_retries_are_stored_once(
    client, bus, query, new_owner, publish, inbound, rows_when
) -> None:
    owner = await new_owner()
    account = f"pn-{uuid4().hex}"
    await connect_account(client, owner, "whatsapp", account)
    first = inbound(account_id=account, content="only once")
    envelope = Envelope.wrap(first, producer="gateway")
    # The same envelope redelivered, and the provider's retry wrapped as a new envelope.
    await bus.publish(envelope, mandatory=True)
    await bus.publish(envelope, mandatory=True)
    retry = await publish(first)
    marker = inbound(account_id=account, content="after", sent_at=first.sent_at + timedelta(1))
    last = await publish(marker)
    # Handlers run concurrently: wait until every distinct envelope has been consumed.
    await wait_until(
        lambda: rows_when(
            query(
                "SELECT event_id FROM conversations.inbox WHERE event_id = ANY(:ids)",
                ids=[envelope.event_id, retry.event_id, last.event_id],
            ),
            lambda r: len(r) == 3,
        )
    )

    rows = await messages_of(query, owner.workspace_id)
    assert [r.content for r in rows] == ["only once", "after"]
    assert rows[-1].message_count == 2
    received = await query(
        "SELECT count(*) AS n FROM conversations.outbox "
        "WHERE event_type = 'message.received' AND aggregate_id = :id",
        id=str(rows[0].conversation_id),
    )
    assert received[0].n == 2


async def test_out_of_order_deliveries_are_kept_in_provider_time_order(
    client, query, new_owner, publish, inbound, rows_when
) -> None:
    owner = await new_owner()
    account = f"page-{uuid4().hex}"
    await connect_account(client, owner, "messenger", account)
    t0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    for minute, text in [(2, "third"), (0, "first"), (1, "second")]:
        await publish(
            inbound(
                channel="messenger",
                account_id=account,
                visitor_id="psid-1",
                content=text,
                sent_at=t0 + timedelta(minutes=minute),
            ),
        )
    rows = await wait_until(
        lambda: rows_when(messages_of(query, owner.workspace_id), lambda r: len(r) == 3)
    )
    assert [r.content for r in rows] == ["first", "second", "third"]
    conversation_id = rows[0].conversation_id

    listed = await client.get(
        "/api/v1/messages/", params={"conversation_id": str(conversation_id)}, headers=owner.headers
    )
    assert [m["content"] for m in listed.json()["data"]] == ["first", "second", "third"]
    conv = (
        await client.get(f"/api/v1/conversations/{conversation_id}", headers=owner.headers)
    ).json()
    assert conv["message_count"] == 3
    assert datetime.fromisoformat(conv["started_at"]) == t0
    assert datetime.fromisoformat(conv["last_message_at"]) == t0 + timedelta(minutes=2)


async def test_same_visitor_on_another_channel_is_another_conversation(
    query, new_owner, publish, inbound, rows_when
) -> None:
    owner = await new_owner()
    await publish(inbound(channel="chatgpt", workspace_id=owner.workspace_id, visitor_id="v"))
    await publish(inbound(channel="phone", workspace_id=owner.workspace_id, visitor_id="v"))
    await publish(inbound(channel="phone", workspace_id=owner.workspace_id, visitor_id="v"))
    rows = await wait_until(
        lambda: rows_when(messages_of(query, owner.workspace_id), lambda r: len(r) == 3)
    )
    assert len({r.conversation_id for r in rows}) == 2


async def test_unknown_account_is_recorded_and_acknowledged(bus, query, publish, inbound) -> None:
    event = inbound(account_id=f"nobody-{uuid4().hex}")
    envelope = await publish(event)
    rows = await wait_until(
        lambda: query(
            "SELECT reason, account_id, external_id FROM conversations.unrouted_messages "
            "WHERE event_id = :id",
            id=envelope.event_id,
        )
    )
    assert [(r.reason, r.account_id, r.external_id) for r in rows] == [
        ("unknown_account", event.account_id, event.external_id)
    ]
    stored = await query(
        "SELECT 1 FROM conversations.messages WHERE external_id = :x", x=event.external_id
    )
    assert stored == []
    # Acknowledged, not retried: the consumer queue drains and nothing is dead-lettered.
    queue = bus.queue_name("conversations", "inbound_message.accepted.v1")
    channel = await bus.broker._connection.channel()
    try:
        main = await channel.declare_queue(queue, passive=True)
        dlq = await channel.declare_queue(f"{queue}.dlq", passive=True)
        assert dlq.declaration_result.message_count == 0
        assert main.declaration_result.message_count == 0
    finally:
        await channel.close()


async def test_workspace_id_of_a_deleted_or_unknown_workspace_is_unrouted(
    query, publish, inbound
) -> None:
    envelope = await publish(inbound(channel="chatgpt", workspace_id=uuid4()))
    rows = await wait_until(
        lambda: query(
            "SELECT reason FROM conversations.unrouted_messages WHERE event_id = :id",
            id=envelope.event_id,
        )
    )
    assert rows[0].reason == "unknown_account"


async def test_status_receipts_update_the_outbound_message_and_never_go_back(
    client, query, new_owner, publish, inbound, execute, rows_when
) -> None:
    owner = await new_owner()
    account = f"pn-{uuid4().hex}"
    await connect_account(client, owner, "whatsapp", account)
    await publish(inbound(account_id=account, visitor_id="v-status"))
    rows = await wait_until(lambda: messages_of(query, owner.workspace_id))
    # The platform's own reply, as the sender would store it with the provider's id.
    reply = await client.post(
        "/api/v1/messages/",
        json={"conversation_id": str(rows[0].conversation_id), "content": "Yes, 10 to 2"},
        headers=owner.headers,
    )
    assert reply.status_code == 201
    wamid = f"wamid.out.{uuid4().hex}"
    await execute(
        "UPDATE conversations.messages SET external_id = :x, channel = 'whatsapp' WHERE id = :id",
        x=wamid,
        id=reply.json()["id"],
    )

    receipts = [
        await publish(inbound(kind="status", account_id=account, external_id=wamid, status=state))
        for state in ("read", "delivered")  # out of order: "delivered" arrives last
    ]
    await wait_until(
        lambda: rows_when(
            query(
                "SELECT 1 FROM conversations.inbox WHERE event_id = ANY(:ids)",
                ids=[r.event_id for r in receipts],
            ),
            lambda r: len(r) == 2,
        )
    )
    message = await client.get(f"/api/v1/messages/{reply.json()['id']}", headers=owner.headers)
    assert message.json()["delivery_status"] == "read"
    conv = (
        await client.get(f"/api/v1/conversations/{rows[0].conversation_id}", headers=owner.headers)
    ).json()
    assert conv["message_count"] == 2  # receipts are not messages


async def test_visitor_writing_again_reopens_a_resolved_conversation(
    client, query, new_owner, publish, inbound, rows_when
) -> None:
    owner = await new_owner()
    await publish(inbound(channel="phone", workspace_id=owner.workspace_id, visitor_id="r"))
    rows = await wait_until(lambda: messages_of(query, owner.workspace_id))
    url = f"/api/v1/conversations/{rows[0].conversation_id}"
    assert (await client.patch(url, json={"status": "resolved"}, headers=owner.headers)).json()[
        "status"
    ] == "resolved"
    await publish(inbound(channel="phone", workspace_id=owner.workspace_id, visitor_id="r"))
    await wait_until(
        lambda: rows_when(messages_of(query, owner.workspace_id), lambda r: len(r) == 2)
    )
    assert (await client.get(url, headers=owner.headers)).json()["status"] == "open"
