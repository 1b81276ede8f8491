"""The owner API (through the gateway's internal token) on the real database."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from shared.testing import wait_until

from .fakes import PAGE_TOKEN, WHATSAPP_TOKEN

API = "/api/v1"


async def record(client, owner, **fields):
    response = await client.post(f"{API}/conversations/", json=fields, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def reply(client, owner, conversation_id, content="Thanks!", **fields):
    response = await client.post(
        f"{API}/messages/",
        json={"conversation_id": conversation_id, "content": content} | fields,
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_channel_accounts_are_created_listed_read_and_deleted(client, new_owner) -> None:
    owner = await new_owner()
    account_id = f"+1555{uuid4().int % 10**7:07d}"
    created = await client.post(
        f"{API}/channel-accounts/",
        json={"channel": "sms", "account_id": account_id, "name": "Front desk"},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["channel"], body["account_id"], body["name"]) == ("sms", account_id, "Front desk")
    assert body["verification"] == "unverified"  # no credentials: nothing proves it is theirs

    listed = (await client.get(f"{API}/channel-accounts/", headers=owner.headers)).json()
    assert listed["count"] == 1
    assert [a["id"] for a in listed["data"]] == [body["id"]]
    read = await client.get(f"{API}/channel-accounts/{body['id']}", headers=owner.headers)
    assert read.json() == body

    deleted = await client.delete(f"{API}/channel-accounts/{body['id']}", headers=owner.headers)
    assert deleted.status_code == 204
    listed = (await client.get(f"{API}/channel-accounts/", headers=owner.headers)).json()
    assert listed == {"data": [], "count": 0}


async def test_a_provider_account_routes_to_one_workspace_only(client, new_owner) -> None:
    first, second = await new_owner(), await new_owner()
    payload = {
        "channel": "whatsapp",
        "account_id": f"pn-{uuid4().hex}",
        "credentials": {"access_token": WHATSAPP_TOKEN},
    }
    created = await client.post(f"{API}/channel-accounts/", json=payload, headers=first.headers)
    assert (created.status_code, created.json()["verification"]) == (201, "verified")
    taken = await client.post(f"{API}/channel-accounts/", json=payload, headers=second.headers)
    assert taken.status_code == 409
    assert "already connected" in taken.json()["detail"]
    for secret in (str(first.workspace_id), first.handle, str(first.owner_id)):
        assert secret not in taken.text
    # The same id on another channel is another account.
    other = payload | {"channel": "messenger", "credentials": {"page_access_token": PAGE_TOKEN}}
    assert (
        await client.post(f"{API}/channel-accounts/", json=other, headers=second.headers)
    ).status_code == 201
    # One workspace claims an account once.
    again = await client.post(f"{API}/channel-accounts/", json=other, headers=second.headers)
    assert again.status_code == 409


async def test_channel_account_for_web_is_refused(client, new_owner) -> None:
    owner = await new_owner()
    response = await client.post(
        f"{API}/channel-accounts/",
        json={"channel": "web", "account_id": "x"},
        headers=owner.headers,
    )
    assert response.status_code == 422


async def test_owner_records_reads_updates_and_deletes_a_conversation(client, new_owner) -> None:
    owner = await new_owner()
    conv = await record(
        client,
        owner,
        channel="phone",
        visitor_name="Luis",
        visitor_contact="+56 9 1234 5678",
        tags=["Booking", "vip", "vip"],
    )
    assert conv["workspace_id"] == str(owner.workspace_id)
    assert conv["tags"] == ["booking", "vip"]
    assert conv["status"] == "open"
    assert conv["message_count"] == 0

    url = f"{API}/conversations/{conv['id']}"
    patched = await client.patch(
        url,
        json={"status": "resolved", "tags": ["Follow-up"], "time_saved_seconds": 300},
        headers=owner.headers,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["status"], body["tags"], body["time_saved_seconds"]) == (
        "resolved",
        ["follow-up"],
        300,
    )
    assert (await client.get(url, headers=owner.headers)).json() == body

    assert (await client.delete(url, headers=owner.headers)).status_code == 204
    assert (await client.get(url, headers=owner.headers)).status_code == 404


async def test_recording_the_same_visitor_twice_on_a_channel_conflicts(client, new_owner) -> None:
    owner = await new_owner()
    await record(client, owner, channel="phone", visitor_id="+15550001")
    again = await client.post(
        f"{API}/conversations/",
        json={"channel": "phone", "visitor_id": "+15550001"},
        headers=owner.headers,
    )
    assert again.status_code == 409


@pytest.mark.parametrize(
    "patch",
    [
        {"tags": ["not a label"]},
        {"tags": ["x" * 40]},
        {"status": "closed"},
        {"time_saved_seconds": -1},
    ],
)
async def test_invalid_changes_are_refused_with_a_readable_422(client, new_owner, patch) -> None:
    owner = await new_owner()
    conv = await record(client, owner, channel="phone")
    response = await client.patch(
        f"{API}/conversations/{conv['id']}", json=patch, headers=owner.headers
    )
    assert response.status_code == 422
    assert response.json()["detail"]


async def read_message(client, owner, message_id):
    response = await client.get(f"{API}/messages/{message_id}", headers=owner.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_messages_are_listed_in_order_and_move_the_counters(
    client, new_owner, stored
) -> None:
    owner = await new_owner()
    conv = await record(client, owner, channel="phone")
    t0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    late = await read_message(
        client, owner, await stored(conv["id"], "owner", "second", t0 + timedelta(1))
    )
    early = await read_message(client, owner, await stored(conv["id"], "owner", "first", t0))
    agent = await read_message(
        client, owner, await stored(conv["id"], "agent", "third", t0 + timedelta(2))
    )
    listed = await client.get(
        f"{API}/messages/", params={"conversation_id": conv["id"]}, headers=owner.headers
    )
    assert [m["id"] for m in listed.json()["data"]] == [early["id"], late["id"], agent["id"]]
    assert listed.json()["count"] == 3
    page = await client.get(
        f"{API}/messages/",
        params={"conversation_id": conv["id"], "skip": 1, "limit": 1},
        headers=owner.headers,
    )
    assert page.json() == {"data": [late], "count": 3}

    after = (await client.get(f"{API}/conversations/{conv['id']}", headers=owner.headers)).json()
    assert after["message_count"] == 3
    assert datetime.fromisoformat(after["last_message_at"]) == t0 + timedelta(2)

    assert (
        await client.delete(f"{API}/messages/{agent['id']}", headers=owner.headers)
    ).status_code == 204
    after = (await client.get(f"{API}/conversations/{conv['id']}", headers=owner.headers)).json()
    assert after["message_count"] == 2
    assert datetime.fromisoformat(after["last_message_at"]) == t0 + timedelta(1)
    assert (
        await client.get(f"{API}/messages/{agent['id']}", headers=owner.headers)
    ).status_code == 404


async def test_list_filters_by_channel_status_tag_dates_and_text(client, new_owner, stored) -> None:
    owner = await new_owner()
    t0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    phone = await record(client, owner, channel="phone", tags=["vip"], started_at=t0.isoformat())
    chat = await record(
        client,
        owner,
        channel="chatgpt",
        status="pending",
        started_at=(t0 + timedelta(days=5)).isoformat(),
    )
    await stored(phone["id"], "owner", "Your 50% discount code", t0)

    async def ids(**params):
        response = await client.get(f"{API}/conversations/", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["data"]]

    assert await ids() == [chat["id"], phone["id"]]  # newest activity first
    assert await ids(channel="phone") == [phone["id"]]
    assert await ids(status="pending") == [chat["id"]]
    assert await ids(tag="VIP") == [phone["id"]]
    assert await ids(q="50% DISCOUNT") == [phone["id"]]
    assert await ids(q="%") == [phone["id"]]  # wildcards are literal
    assert await ids(q="nothing like this") == []
    assert await ids(start=(t0 + timedelta(days=1)).isoformat()) == [chat["id"]]
    assert await ids(end=(t0 + timedelta(days=1)).isoformat()) == [phone["id"]]
    assert await ids(limit=1) == [chat["id"]]
    first_page = await client.get(
        f"{API}/conversations/", params={"limit": 1, "skip": 1}, headers=owner.headers
    )
    assert first_page.json()["count"] == 2
    assert [c["id"] for c in first_page.json()["data"]] == [phone["id"]]


async def test_another_owners_objects_are_404_for_every_verb(client, new_owner) -> None:
    owner, stranger = await new_owner(), await new_owner()
    conv = await record(client, owner, channel="phone")
    message = await reply(client, owner, conv["id"])
    account = (
        await client.post(
            f"{API}/channel-accounts/",
            json={"channel": "instagram", "account_id": f"ig-{uuid4().hex}"},
            headers=owner.headers,
        )
    ).json()

    attempts = [
        ("GET", f"{API}/conversations/{conv['id']}", None),
        ("PATCH", f"{API}/conversations/{conv['id']}", {"status": "resolved"}),
        ("DELETE", f"{API}/conversations/{conv['id']}", None),
        ("GET", f"{API}/messages/?conversation_id={conv['id']}", None),
        ("POST", f"{API}/messages/", {"conversation_id": conv["id"], "content": "hi"}),
        ("GET", f"{API}/messages/{message['id']}", None),
        ("DELETE", f"{API}/messages/{message['id']}", None),
        ("GET", f"{API}/channel-accounts/{account['id']}", None),
        ("DELETE", f"{API}/channel-accounts/{account['id']}", None),
    ]
    for method, url, body in attempts:
        response = await client.request(method, url, json=body, headers=stranger.headers)
        assert response.status_code == 404, (method, url, response.text)
        assert "not found" in response.json()["detail"].lower()
    # Nothing leaked into lists, and nothing changed for the owner.
    for url in (f"{API}/conversations/", f"{API}/channel-accounts/"):
        assert (await client.get(url, headers=stranger.headers)).json()["count"] == 0
    still = (await client.get(f"{API}/conversations/{conv['id']}", headers=owner.headers)).json()
    assert (still["status"], still["message_count"]) == ("open", 1)
    assert (
        await client.get(f"{API}/channel-accounts/{account['id']}", headers=owner.headers)
    ).status_code == 200


async def test_caller_without_a_workspace_gets_404_and_anonymous_gets_401(client, as_user) -> None:
    nobody = as_user(uuid4())
    response = await client.get(f"{API}/conversations/", headers=nobody)
    assert response.status_code == 404
    assert response.json()["detail"] == "You have no workspace yet"
    anonymous = await client.get(f"{API}/conversations/", headers=as_user(None))
    assert anonymous.status_code == 401


async def test_messages_list_requires_a_conversation(client, new_owner) -> None:
    owner = await new_owner()
    response = await client.get(f"{API}/messages/", headers=owner.headers)
    assert response.status_code == 422


async def test_owner_reply_emits_message_received_through_the_outbox(
    client, new_owner, query
) -> None:
    owner = await new_owner()
    conv = await record(client, owner, channel="phone")
    message = await reply(client, owner, conv["id"], "We open at 9")
    rows = await wait_until(
        lambda: query(
            "SELECT envelope FROM conversations.outbox WHERE aggregate_id = :id "
            "AND event_type = 'message.received' AND published_at IS NOT NULL",
            id=conv["id"],
        )
    )
    payload = rows[0].envelope["payload"]
    assert (payload["message_id"], payload["role"], payload["content"]) == (
        message["id"],
        "owner",
        "We open at 9",
    )
