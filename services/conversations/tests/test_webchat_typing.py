"""The web chat typing signal: the visitor's token, one small row, light rate limits."""

from uuid import uuid4

import pytest

from conversations.api.ratelimit import WebChatLimits
from conversations.api.visitor_tokens import issue_visitor_token

API = "/api/v1/public"


@pytest.fixture
def visitor(as_user):
    def headers(token: str | None = None, address: str | None = None) -> dict[str, str]:
        values = as_user(None) | {"X-Forwarded-For": address or f"10.{uuid4().int % 250}.0.2"}
        return values | ({"X-Visitor-Token": token} if token else {})

    return headers


async def open_chat(client, owner, visitor) -> tuple[str, str]:
    opened = await client.post(f"{API}/workspaces/{owner.handle}/conversations", headers=visitor())
    assert opened.status_code == 201, opened.text
    return opened.json()["conversation_id"], opened.json()["visitor_token"]


async def typed_at(query, conversation_id: str):
    rows = await query(
        "SELECT typed_at FROM conversations.visitor_typing WHERE conversation_id = :c",
        c=conversation_id,
    )
    return rows[0].typed_at if rows else None


async def test_typing_answers_204_with_no_body_and_each_signal_moves_the_stamp(
    client, new_owner, visitor, query
) -> None:
    owner = await new_owner()
    conversation_id, token = await open_chat(client, owner, visitor)
    url = f"{API}/conversations/{conversation_id}/typing"
    first = await client.post(url, headers=visitor(token))
    assert (first.status_code, first.content) == (204, b"")
    stamped = await typed_at(query, conversation_id)
    assert stamped is not None
    again = await client.post(url, headers=visitor(token), json={"ignored": True})
    assert again.status_code == 204
    assert await typed_at(query, conversation_id) > stamped
    # A signal is not a message: nothing for the owner, the stream or the agent to read.
    rows = await query(
        "SELECT count(*) AS n FROM conversations.messages WHERE conversation_id = :c",
        c=conversation_id,
    )
    assert rows[0].n == 0


async def test_typing_needs_this_conversations_token(
    client, new_owner, visitor, query, settings
) -> None:
    owner = await new_owner()
    mine, my_token = await open_chat(client, owner, visitor)
    theirs, _ = await open_chat(client, owner, visitor)
    for token in (None, "not-a-token", my_token[:-3] + "abc"):
        refused = await client.post(f"{API}/conversations/{mine}/typing", headers=visitor(token))
        assert refused.status_code == 401 and refused.json()["detail"], token
    other = await client.post(f"{API}/conversations/{theirs}/typing", headers=visitor(my_token))
    assert other.status_code == 404 and other.json()["detail"] == "Conversation not found"
    assert await typed_at(query, theirs) is None and await typed_at(query, mine) is None

    # A token can only name a web chat: any other conversation is not found either.
    phone = await client.post(
        "/api/v1/conversations/", json={"channel": "phone"}, headers=owner.headers
    )
    assert phone.status_code == 201, phone.text
    phone_id = phone.json()["id"]
    key = settings.visitor_token_secret
    forged_ok = issue_visitor_token(key, phone_id, 60)
    answer = await client.post(f"{API}/conversations/{phone_id}/typing", headers=visitor(forged_ok))
    assert answer.status_code == 404
    gone = str(uuid4())
    ghost = issue_visitor_token(key, gone, 60)
    assert (
        await client.post(f"{API}/conversations/{gone}/typing", headers=visitor(ghost))
    ).status_code == 404
    bad_id = await client.post(f"{API}/conversations/not-a-uuid/typing", headers=visitor(my_token))
    assert bad_id.status_code == 422 and bad_id.json()["detail"]


async def test_typing_is_limited_apart_from_posting(app, client, new_owner, visitor) -> None:
    owner = await new_owner()
    saved = app.state.webchat_limits
    app.state.webchat_limits = WebChatLimits(
        per_visitor=2, per_address=100, window_seconds=60, typing_per_visitor=3
    )
    try:
        conversation_id, token = await open_chat(client, owner, visitor)
        headers = visitor(token, address="192.0.2.40")
        url = f"{API}/conversations/{conversation_id}/typing"
        statuses = [(await client.post(url, headers=headers)).status_code for _ in range(4)]
        assert statuses == [204, 204, 204, 429]
        limited = await client.post(url, headers=headers)
        assert int(limited.headers["Retry-After"]) >= 1 and limited.json()["detail"]
        # Typing used none of what posting may spend.
        posted = await client.post(
            f"{API}/conversations/{conversation_id}/messages",
            json={"content": "hello"},
            headers=headers,
        )
        assert posted.status_code == 201, posted.text
    finally:
        app.state.webchat_limits = saved
