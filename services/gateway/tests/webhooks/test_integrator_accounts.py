"""The signed integrator endpoint with per-account secrets: the account named in X-Base-Account
signs, its secret comes from conversations (faked here at the HTTP level), and what it signs
goes to its own workspace only. The platform-wide secret is off."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.settings import Settings
from gateway.webhooks.accounts import InboundSecrets

from .conftest import Received, webhook_app

API = "/api/v1/webhooks"
CONVERSATIONS = "http://conversations.internal"


@dataclass
class Account:
    id: uuid.UUID
    workspace_id: uuid.UUID
    channel: str
    account_id: str
    secret: str

    def answer(self) -> dict[str, str]:
        return {
            "id": str(self.id),
            "workspace_id": str(self.workspace_id),
            "channel": self.channel,
            "account_id": self.account_id,
            "secret": self.secret,
        }


def new_account(channel: str = "phone") -> Account:
    return Account(
        uuid.uuid4(), uuid.uuid4(), channel, f"acct-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    )


@dataclass
class FakeConversations:
    """The internal lookup: known accounts, a counter, and an outage switch."""

    accounts: dict[str, Account] = field(default_factory=dict)
    lookups: int = 0
    down: bool = False
    tokens: list[str] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.lookups += 1
        self.tokens.append(request.headers.get("authorization", ""))
        if self.down:
            return httpx.Response(503, json={"detail": "down"})
        parts = request.url.path.split("/")
        assert parts[:5] == ["", "api", "v1", "internal", "channel-accounts"], parts
        found = self.accounts.get(parts[5])
        if found is None:
            return httpx.Response(404, json={"detail": "Channel account not found"})
        return httpx.Response(200, json=found.answer())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def conversations() -> FakeConversations:
    return FakeConversations()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def per_account(
    webhook_settings: Settings, webhook_bus, conversations: FakeConversations, clock: Clock
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    settings = webhook_settings.model_copy(update={"inbound_signing_secret": None})
    app = webhook_app(settings, webhook_bus[0])
    lookup = httpx.AsyncClient(transport=httpx.MockTransport(conversations.handle))
    app.state.inbound_secrets = InboundSecrets(
        lookup, CONVERSATIONS, lambda: "internal-token", ttl_seconds=10, clock=clock
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        lookup,
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as client,
    ):
        yield client, app


def body_of(external_id: str, **route: Any) -> bytes:
    return json.dumps(
        {
            **route,
            "messages": [
                {
                    "external_id": external_id,
                    "visitor_id": "+15551234567",
                    "content": "I'd like to book",
                    "sent_at": "2026-05-01T10:00:00Z",
                }
            ],
        }
    ).encode()


def signed(body: bytes, secret: str, account: uuid.UUID | str | None) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {
        "X-Base-Timestamp": ts,
        "X-Base-Signature": f"sha256={digest}",
        "Content-Type": "application/json",
    }
    if account is not None:
        headers["X-Base-Account"] = str(account)
    return headers


async def post(client: httpx.AsyncClient, channel: str, body: bytes, headers: dict[str, str]):
    return await client.post(f"{API}/inbound/{channel}", content=body, headers=headers)


async def proves_nothing_published(
    client: httpx.AsyncClient, received: Received, conversations, refused: str
) -> None:
    """A genuine post after the refused one arrives, and the refused one never did."""
    marker = new_account()
    conversations.accounts[str(marker.id)] = marker
    external_id = f"marker-{uuid.uuid4().hex}"
    body = body_of(external_id)
    ok = await post(client, "phone", body, signed(body, marker.secret, marker.id))
    assert ok.status_code == 200, ok.text
    await received.wait_for(external_id)
    assert received.items(lambda i: i.external_id == refused) == []


async def test_an_accounts_own_secret_posts_into_its_own_workspace(
    per_account, received, conversations
) -> None:
    client, _ = per_account
    account = new_account("chatgpt")
    conversations.accounts[str(account.id)] = account
    external_id = f"ok-{uuid.uuid4().hex}"
    body = body_of(external_id)
    response = await post(client, "chatgpt", body, signed(body, account.secret, account.id))
    assert (response.status_code, response.json()) == (200, {"accepted": 1})
    [item] = await received.wait_for(external_id)
    assert (item.workspace_id, item.account_id) == (account.workspace_id, account.account_id)
    assert conversations.tokens == ["Bearer internal-token"]


async def test_account_a_secret_cannot_post_as_account_b(
    per_account, received, conversations
) -> None:
    client, _ = per_account
    a, b = new_account(), new_account()
    conversations.accounts |= {str(a.id): a, str(b.id): b}
    external_id = f"cross-{uuid.uuid4().hex}"
    body = body_of(external_id)
    response = await post(client, "phone", body, signed(body, a.secret, b.id))
    assert response.status_code == 403
    await proves_nothing_published(client, received, conversations, external_id)


@pytest.mark.parametrize(
    "route", ["workspace_id", "account_id"], ids=["other workspace", "other account"]
)
async def test_a_body_naming_another_workspace_or_account_is_refused(
    per_account, received, conversations, route
) -> None:
    client, _ = per_account
    a = new_account()
    conversations.accounts[str(a.id)] = a
    external_id = f"elsewhere-{uuid.uuid4().hex}"
    other = str(uuid.uuid4()) if route == "workspace_id" else "someone-elses-account"
    body = body_of(external_id, **{route: other})
    response = await post(client, "phone", body, signed(body, a.secret, a.id))
    assert response.status_code == 403
    assert "another account" in response.json()["detail"]
    await proves_nothing_published(client, received, conversations, external_id)


@pytest.mark.parametrize("case", ["unknown account", "not a uuid", "other channel", "no header"])
async def test_unknown_accounts_and_the_platform_secret_are_refused(
    per_account, received, conversations, case
) -> None:
    client, _ = per_account
    a = new_account("phone")
    conversations.accounts[str(a.id)] = a
    external_id = f"refused-{uuid.uuid4().hex}"
    body = body_of(external_id, workspace_id=str(a.workspace_id))
    named: Any = {
        "unknown account": uuid.uuid4(),
        "not a uuid": "acct-1",
        "other channel": a.id,
        "no header": None,
    }[case]
    channel = "chatgpt" if case == "other channel" else "phone"
    response = await post(client, channel, body, signed(body, a.secret, named))
    # No account named and no platform secret configured: authenticate (401); an account
    # that is not this one's answers like a forged signature (403), so ids cannot be probed.
    assert response.status_code == (401 if case == "no header" else 403), response.text
    await proves_nothing_published(client, received, conversations, external_id)


async def test_a_rotated_secret_works_at_once_and_the_old_one_stops_after_the_cache(
    per_account, received, conversations, clock
) -> None:
    client, _ = per_account
    a = new_account()
    conversations.accounts[str(a.id)] = a
    old = a.secret

    async def accepted(secret: str) -> int:
        body = body_of(f"rot-{uuid.uuid4().hex}")
        return (await post(client, "phone", body, signed(body, secret, a.id))).status_code

    assert await accepted(old) == 200
    assert await accepted(old) == 200
    assert conversations.lookups == 1  # kept between posts
    conversations.accounts[str(a.id)] = Account(
        a.id, a.workspace_id, a.channel, a.account_id, "rotated-" + uuid.uuid4().hex
    )
    new = conversations.accounts[str(a.id)].secret
    assert await accepted(new) == 200  # a failed check asks again
    assert await accepted(old) == 403  # the fresh answer replaced the kept one
    clock.now += 11
    assert await accepted(old) == 403
    assert await accepted(new) == 200


async def test_a_kept_old_secret_expires_with_the_cache(
    per_account, received, conversations, clock
) -> None:
    client, _ = per_account
    a = new_account()
    conversations.accounts[str(a.id)] = a
    body = body_of(f"keep-{uuid.uuid4().hex}")
    assert (await post(client, "phone", body, signed(body, a.secret, a.id))).status_code == 200
    del conversations.accounts[str(a.id)]  # deleted (or rotated) in conversations
    clock.now += 11
    body = body_of(f"gone-{uuid.uuid4().hex}")
    assert (await post(client, "phone", body, signed(body, a.secret, a.id))).status_code == 403


async def test_lookup_outage_is_a_503_the_integrator_retries(
    per_account, received, conversations
) -> None:
    client, _ = per_account
    a = new_account()
    conversations.accounts[str(a.id)] = a
    conversations.down = True
    external_id = f"later-{uuid.uuid4().hex}"
    body = body_of(external_id)
    response = await post(client, "phone", body, signed(body, a.secret, a.id))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    conversations.down = False
    response = await post(client, "phone", body, signed(body, a.secret, a.id))
    assert response.status_code == 200
    await received.wait_for(external_id)
