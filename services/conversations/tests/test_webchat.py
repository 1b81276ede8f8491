"""Public web chat: open with a handle, then post and read with the visitor token."""

from uuid import uuid4

import pytest

from conversations.api.ratelimit import WebChatLimits
from conversations.api.visitor_tokens import issue_visitor_token

API = "/api/v1/public"


@pytest.fixture
def visitor(as_user):
    """Headers the gateway sends for public traffic: anonymous principal, client address."""

    def headers(token: str | None = None, address: str | None = None) -> dict[str, str]:
        values = as_user(None) | {"X-Forwarded-For": address or f"10.{uuid4().int % 250}.0.1"}
        return values | ({"X-Visitor-Token": token} if token else {})

    return headers


async def open_chat(client, owner, visitor, **body):
    response = await client.post(
        f"{API}/workspaces/{owner.handle}/conversations", json=body, headers=visitor()
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_visitor_opens_posts_and_reads_with_their_token(
    client, new_owner, visitor, query
) -> None:
    owner = await new_owner()
    opened = await open_chat(client, owner, visitor, visitor_name="Marta")
    conversation_id, token = opened["conversation_id"], opened["visitor_token"]
    url = f"{API}/conversations/{conversation_id}/messages"

    posted = await client.post(url, json={"content": "Hi, are you open?"}, headers=visitor(token))
    assert posted.status_code == 201, posted.text
    assert posted.json()["role"] == "visitor"

    read = await client.get(url, headers=visitor(token))
    assert read.status_code == 200
    assert [(m["role"], m["content"]) for m in read.json()["data"]] == [
        ("visitor", "Hi, are you open?")
    ]
    # The owner sees it as a web conversation of their workspace, with the owner's reply
    # visible to the visitor afterwards.
    conv = await client.get(f"/api/v1/conversations/{conversation_id}", headers=owner.headers)
    assert (conv.json()["channel"], conv.json()["visitor_name"]) == ("web", "Marta")
    reply = await client.post(
        "/api/v1/messages/",
        json={"conversation_id": conversation_id, "content": "Yes, until 6"},
        headers=owner.headers,
    )
    assert reply.status_code == 201
    read = await client.get(url, headers=visitor(token))
    assert [m["content"] for m in read.json()["data"]] == ["Hi, are you open?", "Yes, until 6"]

    events = await query(
        "SELECT event_type FROM conversations.outbox WHERE aggregate_id = :id ORDER BY id",
        id=conversation_id,
    )
    # The delivery may have recorded the web reply already (message.delivery_updated).
    assert [e.event_type for e in events if e.event_type != "message.delivery_updated"] == [
        "conversation.started",
        "message.received",
        "message.received",
        "message.reply_requested",
    ]


async def test_without_a_token_the_visitor_gets_401_and_nothing_is_stored(
    client, new_owner, visitor, query
) -> None:
    owner = await new_owner()
    opened = await open_chat(client, owner, visitor)
    url = f"{API}/conversations/{opened['conversation_id']}/messages"
    for token in (None, "not-a-token", opened["visitor_token"][:-3] + "abc"):
        posted = await client.post(url, json={"content": "hi"}, headers=visitor(token))
        assert posted.status_code == 401, token
        assert (await client.get(url, headers=visitor(token))).status_code == 401
    stored = await query(
        "SELECT count(*) AS n FROM conversations.messages WHERE conversation_id = :id",
        id=opened["conversation_id"],
    )
    assert stored[0].n == 0


async def test_another_conversations_token_gets_404(client, new_owner, visitor) -> None:
    owner = await new_owner()
    mine = await open_chat(client, owner, visitor)
    theirs = await open_chat(client, owner, visitor)
    url = f"{API}/conversations/{theirs['conversation_id']}/messages"
    headers = visitor(mine["visitor_token"])
    assert (await client.post(url, json={"content": "hi"}, headers=headers)).status_code == 404
    assert (await client.get(url, headers=headers)).status_code == 404


async def test_token_signed_with_another_key_is_refused(client, new_owner, visitor) -> None:
    owner = await new_owner()
    opened = await open_chat(client, owner, visitor)
    forged = issue_visitor_token("not-the-secret", opened["conversation_id"], 3600)
    url = f"{API}/conversations/{opened['conversation_id']}/messages"
    assert (await client.get(url, headers=visitor(forged))).status_code == 401


async def test_unknown_handle_is_404(client, visitor) -> None:
    response = await client.post(
        f"{API}/workspaces/no-such-handle/conversations", headers=visitor()
    )
    assert response.status_code == 404


async def test_web_chat_without_the_gateways_internal_token_is_refused(client, new_owner) -> None:
    owner = await new_owner()
    response = await client.post(f"{API}/workspaces/{owner.handle}/conversations")
    assert response.status_code == 401  # no internal token: not forwarded by the gateway


async def test_posting_is_rate_limited_per_visitor_with_retry_after(
    app, client, new_owner, visitor
) -> None:
    owner = await new_owner()
    saved = app.state.webchat_limits
    app.state.webchat_limits = WebChatLimits(per_visitor=2, per_address=100, window_seconds=60)
    try:
        opened = await open_chat(client, owner, visitor)
        url = f"{API}/conversations/{opened['conversation_id']}/messages"
        statuses = [
            (
                await client.post(
                    url,
                    json={"content": f"m{i}"},
                    headers=visitor(opened["visitor_token"], address=f"10.9.9.{i}"),
                )
            )
            for i in range(3)
        ]
        assert [r.status_code for r in statuses] == [201, 201, 429]
        assert 1 <= int(statuses[-1].headers["Retry-After"]) <= 60
    finally:
        app.state.webchat_limits = saved


async def test_opening_is_rate_limited_per_address(app, client, new_owner, visitor) -> None:
    owner = await new_owner()
    saved = app.state.webchat_limits
    app.state.webchat_limits = WebChatLimits(per_visitor=100, per_address=2, window_seconds=60)
    try:
        url = f"{API}/workspaces/{owner.handle}/conversations"
        same = [
            (await client.post(url, headers=visitor(address="192.0.2.7"))).status_code
            for _ in range(3)
        ]
        assert same == [201, 201, 429]
        other = await client.post(url, headers=visitor(address="192.0.2.8"))
        assert other.status_code == 201
    finally:
        app.state.webchat_limits = saved
