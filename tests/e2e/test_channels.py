"""A visitor's message from a provider to the owner's inbox, through the running system."""

from __future__ import annotations

import time
import uuid

import httpx

from shared.testing import wait_until

from .conftest import create_workspace, fakes, meta_headers, signup, whatsapp_text


def whatsapp(phone_number_id: str, message_id: str, text: str, sent: int) -> bytes:
    return whatsapp_text(phone_number_id, "34600111222", message_id, text, sent)


signed = meta_headers


async def test_whatsapp_messages_reach_the_owner_once_and_in_provider_order(
    api: httpx.AsyncClient,
) -> None:
    owner = await signup(api)
    await create_workspace(api, owner)
    phone_number_id = f"pn-{uuid.uuid4().hex[:12]}"

    async def account_connected() -> bool:
        response = await api.post(
            "/api/v1/channel-accounts/",
            headers=owner["headers"],
            json={
                "channel": "whatsapp",
                "account_id": phone_number_id,
                "credentials": {"access_token": fakes.WHATSAPP_TOKEN},
            },
        )
        return response.status_code == 201

    await wait_until(account_connected)  # once conversations knows the workspace

    now = int(time.time())
    later = whatsapp(phone_number_id, "wamid.B", "second", now)
    earlier = whatsapp(phone_number_id, "wamid.A", "first", now - 60)
    for body in (later, earlier, later):  # out of order, and a provider retry
        response = await api.post("/api/v1/webhooks/whatsapp", content=body, headers=signed(body))
        assert response.status_code == 200, response.text

    forged = await api.post(
        "/api/v1/webhooks/whatsapp",
        content=whatsapp(phone_number_id, "wamid.F", "forged", now),
        headers=signed(later, secret="not-the-app-secret"),
    )
    assert forged.status_code in (401, 403)

    async def conversation() -> dict | None:
        listed = await api.get("/api/v1/conversations/?channel=whatsapp", headers=owner["headers"])
        data = listed.json()["data"]
        return data[0] if data and data[0]["message_count"] == 2 else None

    found = await wait_until(conversation)
    messages = await api.get(
        f"/api/v1/messages/?conversation_id={found['id']}", headers=owner["headers"]
    )
    assert [m["content"] for m in messages.json()["data"]] == ["first", "second"]
    assert messages.json()["count"] == 2

    stranger = await signup(api, "stranger")
    hidden = await api.get(f"/api/v1/conversations/{found['id']}", headers=stranger["headers"])
    assert hidden.status_code == 404
