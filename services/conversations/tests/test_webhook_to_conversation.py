"""Full path: a signed provider webhook into the gateway's router, over the real broker, into
this service's consumer and database (both apps on one events exchange)."""

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from conversations.settings import Settings as ConversationsSettings
from gateway.settings import Settings as GatewaySettings
from gateway.webhooks.api import router as webhooks_router
from shared.bus import Bus
from shared.testing import wait_until

from .fakes import WHATSAPP_TOKEN

APP_SECRET = "meta-app-secret-full-path"


@pytest.fixture
async def gateway(settings: ConversationsSettings, client) -> AsyncIterator[httpx.AsyncClient]:
    gateway_settings = GatewaySettings(
        rabbitmq_url=settings.rabbitmq_url,
        events_exchange=settings.events_exchange,
        queue_prefix=settings.queue_prefix,
        meta_app_secret=APP_SECRET,
    )
    bus = Bus(gateway_settings, "gateway")
    await bus.start()
    app = FastAPI()
    app.include_router(webhooks_router, prefix="/api/v1")
    app.state.settings = gateway_settings
    app.state.runtime = SimpleNamespace(bus=bus)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield http
    finally:
        await bus.stop()


def signed_whatsapp(phone_number_id: str, wamid: str, text: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "waba-1",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550001111",
                                    "phone_number_id": phone_number_id,
                                },
                                "contacts": [{"profile": {"name": "Joana"}, "wa_id": "351911"}],
                                "messages": [
                                    {
                                        "from": "351911",
                                        "id": wamid,
                                        "timestamp": str(int(time.time())),
                                        "type": "text",
                                        "text": {"body": text},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    signature = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-Hub-Signature-256": f"sha256={signature}"}


async def test_signed_whatsapp_webhook_ends_up_stored_once_in_the_owners_conversation(
    app: FastAPI, client, gateway, new_owner, query, rows_when
) -> None:
    owner = await new_owner()
    phone_number_id = f"pn-{uuid4().hex[:12]}"
    connected = await client.post(
        "/api/v1/channel-accounts/",
        json={
            "channel": "whatsapp",
            "account_id": phone_number_id,
            "credentials": {"access_token": WHATSAPP_TOKEN},
        },
        headers=owner.headers,
    )
    assert connected.status_code == 201

    consumed = (
        "SELECT count(*) AS n FROM conversations.inbox "
        "WHERE event_type = 'inbound_message.accepted'"
    )
    before = (await query(consumed))[0].n
    wamid = f"wamid.{uuid4().hex}"
    body, headers = signed_whatsapp(phone_number_id, wamid, "Quiero reservar el viernes")
    first = await gateway.post("/api/v1/webhooks/whatsapp", content=body, headers=headers)
    assert first.status_code == 200, first.text
    # Meta retries when it misses our 200: the same notification again.
    retry = await gateway.post("/api/v1/webhooks/whatsapp", content=body, headers=headers)
    assert retry.status_code == 200

    # Both deliveries consumed (each is its own envelope), before looking at what is stored.
    await wait_until(lambda: rows_when(query(consumed), lambda rows: rows[0].n >= before + 2))
    stored = await wait_until(
        lambda: query(
            "SELECT conversation_id FROM conversations.messages WHERE external_id = :x", x=wamid
        )
    )
    assert len(stored) == 1
    conversations = (await client.get("/api/v1/conversations/", headers=owner.headers)).json()
    assert conversations["count"] == 1
    [conversation] = conversations["data"]
    assert (conversation["channel"], conversation["visitor_id"], conversation["visitor_name"]) == (
        "whatsapp",
        "351911",
        "Joana",
    )
    assert conversation["message_count"] == 1
    messages = await client.get(
        "/api/v1/messages/",
        params={"conversation_id": conversation["id"]},
        headers=owner.headers,
    )
    assert [(m["role"], m["content"], m["external_id"]) for m in messages.json()["data"]] == [
        ("visitor", "Quiero reservar el viernes", wamid)
    ]


async def test_forged_webhook_reaches_no_conversation(client, gateway, new_owner, query) -> None:
    owner = await new_owner()
    phone_number_id = f"pn-{uuid4().hex[:12]}"
    await client.post(
        "/api/v1/channel-accounts/",
        json={
            "channel": "whatsapp",
            "account_id": phone_number_id,
            "credentials": {"access_token": WHATSAPP_TOKEN},
        },
        headers=owner.headers,
    )
    wamid = f"wamid.{uuid4().hex}"
    body, _ = signed_whatsapp(phone_number_id, wamid, "forged")
    forged = {
        "X-Hub-Signature-256": "sha256=" + hmac.new(b"guess", body, hashlib.sha256).hexdigest()
    }
    response = await gateway.post("/api/v1/webhooks/whatsapp", content=body, headers=forged)
    assert response.status_code == 403
    # A genuine one afterwards goes through the same queue and arrives; the forged never did.
    marker = f"wamid.{uuid4().hex}"
    body, headers = signed_whatsapp(phone_number_id, marker, "genuine")
    assert (
        await gateway.post("/api/v1/webhooks/whatsapp", content=body, headers=headers)
    ).status_code == 200
    await wait_until(
        lambda: query("SELECT 1 FROM conversations.messages WHERE external_id = :x", x=marker)
    )
    assert await query("SELECT 1 FROM conversations.messages WHERE external_id = :x", x=wamid) == []
