"""The way back, through the running system: a visitor writes on a channel (signed webhook),
the owner replies through the gateway, the provider (a loopback fake) receives the right
request, and the provider's status webhook moves the reply to delivered."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from shared.testing import wait_until

from .conftest import (
    TWILIO_AUTH_TOKEN,
    create_workspace,
    events,
    fakes,
    meta_headers,
    signup,
    whatsapp_value,
)

API = "/api/v1"
CREDENTIALS = {
    "whatsapp": {"access_token": fakes.WHATSAPP_TOKEN},
    "messenger": {"page_access_token": fakes.PAGE_TOKEN},
    "instagram": {"page_access_token": fakes.PAGE_TOKEN},
    "sms": {"account_sid": fakes.TWILIO_SID, "auth_token": fakes.TWILIO_TOKEN},
}


def messaging(obj: str, account: str, visitor: str, **event: Any) -> bytes:
    item = {"sender": {"id": visitor}, "recipient": {"id": account}, **event}
    return json.dumps({"object": obj, "entry": [{"id": account, "messaging": [item]}]}).encode()


class Channel:
    """How one channel's visitor writes, and how its provider reports delivery."""

    def __init__(self, api: httpx.AsyncClient, gateway: str, name: str) -> None:
        self.api, self.gateway, self.name = api, gateway, name
        tag = uuid.uuid4().int % 10**7
        # Numbers that are real phone numbers (a Spanish mobile, a Chicago line): the channel
        # proves them, and contacts keep them as the visitor's phone.
        self.visitor = {
            "whatsapp": f"346{tag:08d}",
            "sms": f"+13122{tag % 10**6:06d}",
        }.get(name, f"visitor-{tag}")
        self.account_id = f"+1555{tag:07d}" if name == "sms" else f"acc-{tag}"
        self.account: dict[str, Any] = {}

    def connected(self, account: dict[str, Any]) -> None:
        """The channel account as created: integrators sign with its own secret."""
        assert account["verification"] == "verified", account
        self.account = account

    async def visitor_writes(self, text: str) -> None:
        now = int(time.time())
        if self.name == "whatsapp":
            message = {
                "from": self.visitor,
                "id": f"wamid.in{uuid.uuid4().hex}",
                "timestamp": str(now),
                "type": "text",
                "text": {"body": text},
            }
            body = whatsapp_value(self.account_id, messages=[message])
            response = await self.api.post(
                f"{API}/webhooks/whatsapp", content=body, headers=meta_headers(body)
            )
        elif self.name in ("messenger", "instagram"):
            obj = "page" if self.name == "messenger" else "instagram"
            body = messaging(
                obj,
                self.account_id,
                self.visitor,
                timestamp=now * 1000,
                message={"mid": f"m_in{uuid.uuid4().hex}", "text": text},
            )
            response = await self.api.post(
                f"{API}/webhooks/{self.name}", content=body, headers=meta_headers(body)
            )
        elif self.name == "sms":
            params = {
                "MessageSid": f"SMin{uuid.uuid4().hex}",
                "From": self.visitor,
                "To": self.account_id,
                "Body": text,
                "NumMedia": "0",
            }
            response = await self.twilio_post("/webhooks/twilio/sms", params)
        else:
            raw = json.dumps(
                {
                    "account_id": self.account_id,
                    "messages": [
                        {
                            "external_id": f"call-{uuid.uuid4().hex}",
                            "visitor_id": self.visitor,
                            "content": text,
                            "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                        }
                    ],
                }
            ).encode()
            ts = str(now)
            secret = self.account["inbound_signing_secret"]
            digest = hmac.new(secret.encode(), ts.encode() + b"." + raw, hashlib.sha256)
            response = await self.api.post(
                f"{API}/webhooks/inbound/{self.name}",
                content=raw,
                headers={
                    "X-Base-Account": self.account["id"],
                    "X-Base-Timestamp": ts,
                    "X-Base-Signature": f"sha256={digest.hexdigest()}",
                    "Content-Type": "application/json",
                },
            )
        assert response.status_code in (200, 204), response.text

    async def twilio_post(self, path: str, params: dict[str, str]) -> httpx.Response:
        url = f"{self.gateway}{API}{path}"
        return await self.api.post(
            f"{API}{path}",
            content=urlencode(params),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": fakes.twilio_signature(TWILIO_AUTH_TOKEN, url, params),
            },
        )

    async def provider_reports_delivered(self, external_id: str) -> None:
        now = int(time.time())
        if self.name == "whatsapp":
            status = {
                "id": external_id,
                "status": "delivered",
                "timestamp": str(now),
                "recipient_id": self.visitor,
            }
            body = whatsapp_value(self.account_id, statuses=[status])
            response = await self.api.post(
                f"{API}/webhooks/whatsapp", content=body, headers=meta_headers(body)
            )
        elif self.name in ("messenger", "instagram"):
            obj = "page" if self.name == "messenger" else "instagram"
            watermark = now * 1000 + 1000
            body = messaging(
                obj,
                self.account_id,
                self.visitor,
                timestamp=watermark,
                delivery={"mids": [external_id], "watermark": watermark},
            )
            response = await self.api.post(
                f"{API}/webhooks/{self.name}", content=body, headers=meta_headers(body)
            )
        else:
            params = {
                "MessageSid": external_id,
                "MessageStatus": "delivered",
                "AccountSid": fakes.TWILIO_SID,
                "From": self.account_id,
                "To": self.visitor,
            }
            response = await self.twilio_post("/webhooks/twilio/status", params)
        assert response.status_code in (200, 204), response.text


def server_for(providers: Any, channel: str) -> Any:
    if channel in ("whatsapp", "messenger", "instagram"):
        return providers.graph
    return providers.twilio if channel == "sms" else providers.callback


@pytest.mark.parametrize("name", ["whatsapp", "messenger", "instagram", "sms", "chatgpt"])
async def test_an_owner_reply_reaches_the_visitors_channel_and_is_delivered(
    api: httpx.AsyncClient, system: Any, providers: Any, name: str
) -> None:
    owner = await signup(api)
    await create_workspace(api, owner)
    headers = owner["headers"]
    channel = Channel(api, system.gateway, name)
    credentials = CREDENTIALS.get(name) or {"callback_url": f"{providers.callback.url}/replies"}
    account = await api.post(
        f"{API}/channel-accounts/",
        json={"channel": name, "account_id": channel.account_id, "credentials": credentials},
        headers=headers,
    )
    assert account.status_code == 201, account.text
    assert "****" in json.dumps(account.json()["credentials"])
    channel.connected(account.json())

    await channel.visitor_writes("Hi, can I come at 10?")

    async def conversation() -> Any:
        found = await api.get(f"{API}/conversations/", params={"channel": name}, headers=headers)
        return found.json()["data"]

    [conv] = await wait_until(conversation, timeout=20)
    text = f"Yes, 10:00 works ({uuid.uuid4().hex[:6]})"
    reply = await api.post(
        f"{API}/messages/", json={"conversation_id": conv["id"], "content": text}, headers=headers
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["delivery_status"] == "pending"

    server = server_for(providers, name)

    async def received() -> Any:
        return [r for r in server.state.to(channel.visitor) if text in json.dumps(r.body)]

    [request] = await wait_until(received, timeout=20)
    if name == "whatsapp":
        assert request.path == f"/v24.0/{channel.account_id}/messages"
        assert request.headers["authorization"] == f"Bearer {fakes.WHATSAPP_TOKEN}"
        assert request.body["text"] == {"body": text}
    elif name in ("messenger", "instagram"):
        assert request.path == f"/v24.0/{channel.account_id}/messages"
        assert request.query == {"access_token": fakes.PAGE_TOKEN}
        assert request.body["message"] == {"text": text}
    elif name == "sms":
        assert request.path == f"/2010-04-01/Accounts/{fakes.TWILIO_SID}/Messages.json"
        assert request.headers["authorization"].startswith("Basic ")
        assert (request.body["From"], request.body["Body"]) == (channel.account_id, text)
        assert request.body["StatusCallback"] == f"{system.gateway}{API}/webhooks/twilio/status"
    else:
        secret = account.json()["signing_secret"]
        assert fakes.callback_signature_ok(secret, request)
        assert request.body["content"] == text

    async def status(*wanted: str) -> Any:
        read = await api.get(f"{API}/messages/{reply.json()['id']}", headers=headers)
        body = read.json()
        return body if body["delivery_status"] in wanted else None

    sent = await wait_until(lambda: status("sent"), timeout=20)
    if name == "chatgpt":
        return  # integrators have no status webhooks: accepted is as far as it goes
    inbox = f"{system.gateway}{API}/conversations/events"
    async with events(inbox, headers=headers) as stream:
        await stream.next()  # the stream is open: what follows is live
        await channel.provider_reports_delivered(sent["external_id"])
        delivered = await wait_until(lambda: status("delivered"), timeout=20)
        assert delivered["delivery_error"] is None

        async def shown_delivered() -> bool:
            event = await stream.next(timeout=10)
            row = event["json"]
            return event.get("event") == "message" and (row["id"], row["delivery_status"]) == (
                reply.json()["id"],
                "delivered",
            )

        # The owner's inbox stream shows the change (earlier events may come first).
        assert await wait_until(shown_delivered, timeout=20, interval=0)
