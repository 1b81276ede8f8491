"""Internal tokens are bound to the service they are meant for.

The four services run as they are deployed: the gateway alone holds SECRET_KEY; each service
holds only its own internal-token key (INTERNAL_TOKEN_KEY) and the keys of the services it
calls. The keys here are independent random values, not derived from SECRET_KEY, so nothing
can work by deriving them. Whatever one service's settings leak, no other service accepts a
token minted with them, and the gateway accepts no access token minted with them.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import jwt
import pytest

from shared.settings import DEFAULT_SECRET_KEY
from shared.testing import served_client, wait_until
from shared.tokens import Principal, audience_key, sign_internal_token
from tests.e2e.conftest import (
    SECRET,
    System,
    create_workspace,
    private_system,
    signup,
)

AUDIENCES = ("workspaces", "connectors", "conversations")
KEYS = {audience: secrets.token_hex(32) for audience in AUDIENCES}
TOKEN_KEY_NAMES = ("INTERNAL_TOKEN_KEY", *(f"{a.upper()}_TOKEN_KEY" for a in AUDIENCES))


def service_env(base: dict[str, str], service: str) -> dict[str, str]:
    """What one service is given: the gateway SECRET_KEY and every key; a service its own key
    and those of the services it calls; nobody but the gateway SECRET_KEY."""
    env = {k: v for k, v in base.items() if k not in ("SECRET_KEY", *TOKEN_KEY_NAMES)}
    if service == "gateway":
        return env | {"SECRET_KEY": SECRET} | {f"{a.upper()}_TOKEN_KEY": KEYS[a] for a in KEYS}
    calls = {"workspaces": (), "connectors": ("workspaces",)}.get(
        service, ("workspaces", "connectors")
    )
    return (
        env
        | {"INTERNAL_TOKEN_KEY": KEYS[service]}
        | {f"{a.upper()}_TOKEN_KEY": KEYS[a] for a in calls}
    )


@pytest.fixture(scope="module")
def split() -> Iterator[System]:
    """The four services as deployed: each holds only the keys `service_env` gives it."""
    with private_system("audience", service_env=service_env) as system:
        yield system


@pytest.fixture(scope="module")
async def split_gw(split: System) -> AsyncIterator[httpx.AsyncClient]:
    async with served_client(split.gateway) as client:
        yield client


def bearer(key: str, audience: str, user: uuid.UUID | None = None) -> dict[str, str]:
    token = sign_internal_token(key, audience, Principal(user, is_superuser=True))
    return {"Authorization": f"Bearer {token}"}


async def test_the_whole_loop_works_with_each_service_holding_only_its_keys(
    split_gw: httpx.AsyncClient,
) -> None:
    """gateway -> every service, connectors and conversations -> workspaces (a workspace
    read before its event arrives), conversations -> connectors (the agent books)."""
    owner = await signup(split_gw, "aud")
    workspace = await create_workspace(split_gw, owner)
    headers = owner["headers"]
    service = await split_gw.post(
        "/api/v1/workspace-services/",
        headers=headers,
        json={"name": "Consultation", "duration_minutes": 30},
    )
    assert service.status_code == 201, service.text
    # At once: a service the workspace.created event has not reached asks workspaces, with
    # the workspaces key it holds.
    calendar = await split_gw.post(
        "/api/v1/connectors/",
        headers=headers,
        json={"name": "Calendar", "provider": "builtin", "config": {}},
    )
    assert calendar.status_code == 201, calendar.text
    account = await split_gw.post(
        "/api/v1/channel-accounts/",
        headers=headers,
        json={
            "channel": "whatsapp",
            "account_id": f"pn-{uuid.uuid4().hex[:12]}",
            "credentials": {"access_token": "wa-token-" + "x" * 20},
        },
    )
    assert account.status_code == 201, account.text
    activated = await split_gw.post(
        f"/api/v1/connectors/{calendar.json()['id']}/activate", headers=headers
    )
    assert activated.status_code == 200, activated.text

    async def agent_ready() -> bool:
        return (await split_gw.get("/api/v1/agent/settings", headers=headers)).status_code == 200

    await wait_until(agent_ready, timeout=20)
    opened = await split_gw.post(
        f"/api/v1/public/workspaces/{workspace['handle']}/conversations",
        json={"visitor_name": "Ana Audience"},
    )
    assert opened.status_code == 201, opened.text
    conversation = opened.json()["conversation_id"]
    visitor = {"X-Visitor-Token": opened.json()["visitor_token"]}

    async def agent_replies(count: int) -> list[str] | None:
        read = await split_gw.get(
            f"/api/v1/public/conversations/{conversation}/messages", headers=visitor
        )
        assert read.status_code == 200, read.text
        replies = [m["content"] for m in read.json()["data"] if m["role"] == "agent"]
        return replies if len(replies) >= count else None

    # The widget gives a name; the agent asks for a way to reach the visitor before booking.
    for text, count in (("hi", 1), ("1", 2), ("ana.audience@example.com", 3)):
        sent = await split_gw.post(
            f"/api/v1/public/conversations/{conversation}/messages",
            json={"content": text},
            headers=visitor,
        )
        assert sent.status_code == 201, sent.text
        replies = await wait_until(lambda count=count: agent_replies(count), timeout=20)
    # The third reply books (no reminder follows it at once: the visitor was just told).
    assert "booked" in replies[2], replies

    async def booked() -> list[dict] | None:
        listed = await split_gw.get("/api/v1/connectors/active/bookings", headers=headers)
        return listed.json()["data"] or None

    (booking,) = await wait_until(booked)
    assert booking["conversation_id"] == conversation


@pytest.mark.parametrize("holder", AUDIENCES)
async def test_a_services_key_mints_no_token_another_service_accepts(
    split: System, holder: str
) -> None:
    key, user = KEYS[holder], uuid.uuid4()
    async with httpx.AsyncClient(timeout=5) as http:
        for target in AUDIENCES:
            url = f"{split.url(target)}/api/v1/openapi.json"
            own = await http.get(url, headers=bearer(KEYS[target], target, user))
            assert own.status_code == 200, (target, own.text)  # the control
            if target == holder:
                continue
            for audience in (target, holder, "gateway"):
                forged = await http.get(url, headers=bearer(key, audience, user))
                assert forged.status_code == 401, (holder, target, audience)
                assert forged.json()["detail"]
            # Nor a key derived from a SECRET_KEY a service might fall back to.
            for secret in (SECRET, DEFAULT_SECRET_KEY):
                derived = await http.get(
                    url, headers=bearer(audience_key(secret, target), target, user)
                )
                assert derived.status_code == 401, (target, secret)


async def test_no_key_a_service_holds_forges_a_users_access_token(
    split_gw: httpx.AsyncClient,
) -> None:
    owner = await signup(split_gw, "forge")
    real = owner["headers"]
    assert (await split_gw.get("/api/v1/users/me", headers=real)).status_code == 200
    claims = jwt.decode(
        real["Authorization"].removeprefix("Bearer "), options={"verify_signature": False}
    )
    now = int(time.time())
    claims |= {"iat": now, "exp": now + 600}
    for key in (*KEYS.values(), DEFAULT_SECRET_KEY):
        forged = jwt.encode(claims, key, algorithm="HS256")
        response = await split_gw.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {forged}"}
        )
        assert response.status_code == 401, response.text
    # The same claims with the gateway's own key pass: the refusals are about the key.
    genuine = jwt.encode(claims, SECRET, algorithm="HS256")
    response = await split_gw.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {genuine}"}
    )
    assert response.status_code == 200, response.text
