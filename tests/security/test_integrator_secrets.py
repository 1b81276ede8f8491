"""Per-account signing secrets for the signed integrator webhook (chatgpt, phone).

There is no platform-wide secret any more (INBOUND_SIGNING_SECRET is unset by default): each
channel account gets its own, shown once, rotatable, and what it signs lands in its own
workspace only. The security system runs with INBOUND_SECRET_CACHE_SECONDS=0, so a rotated
secret must stop at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx

from shared.testing import wait_until
from tests.security.objects import make_owner

API = "/api/v1"


def batch(external_id: str, visitor: str, **route: Any) -> bytes:
    return json.dumps(
        {
            **route,
            "messages": [
                {
                    "external_id": external_id,
                    "visitor_id": visitor,
                    "content": "I'd like to book",
                    "sent_at": "2026-05-01T10:00:00Z",
                }
            ],
        }
    ).encode()


def signed(body: bytes, secret: str, account: str | None) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {
        "X-Base-Timestamp": ts,
        "X-Base-Signature": f"sha256={digest}",
        "Content-Type": "application/json",
    }
    if account is not None:
        headers["X-Base-Account"] = account
    return headers


async def integrator_account(gw: httpx.AsyncClient, owner: dict, channel: str = "phone") -> dict:
    response = await gw.post(
        f"{API}/channel-accounts/",
        headers=owner["headers"],
        json={"channel": channel, "account_id": f"line-{uuid.uuid4().hex[:10]}"},
    )
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["verification"] == "verified"
    assert account["inbound_signing_secret"], account
    return account


async def post(gw: httpx.AsyncClient, body: bytes, headers: dict, channel: str = "phone"):
    return await gw.post(f"{API}/webhooks/inbound/{channel}", content=body, headers=headers)


async def arrived(gw: httpx.AsyncClient, owner: dict, visitor: str) -> list[dict]:
    async def found() -> list[dict] | None:
        response = await gw.get(f"{API}/conversations/", headers=owner["headers"])
        data = [c for c in response.json()["data"] if c["visitor_id"] == visitor]
        return data or None

    return await wait_until(found, timeout=20)


async def visitors_of(gw: httpx.AsyncClient, owner: dict) -> set[str]:
    response = await gw.get(f"{API}/conversations/", headers=owner["headers"])
    return {c["visitor_id"] for c in response.json()["data"]}


async def test_account_a_secret_cannot_post_into_account_b_workspace(
    gw: httpx.AsyncClient,
) -> None:
    a_owner, b_owner = await make_owner(gw, "integ-a"), await make_owner(gw, "integ-b")
    a, b = await integrator_account(gw, a_owner), await integrator_account(gw, b_owner)
    a_secret = a["inbound_signing_secret"]
    attempts = {
        # A's secret, naming B's account.
        "as b": (batch(f"x-{uuid.uuid4().hex}", "+15550000001"), b["id"]),
        # A's own account, but the body routes to B's workspace or B's account.
        "b workspace": (
            batch(f"x-{uuid.uuid4().hex}", "+15550000002", workspace_id=b_owner["workspace"]["id"]),
            a["id"],
        ),
        "b account": (
            batch(f"x-{uuid.uuid4().hex}", "+15550000003", account_id=b["account_id"]),
            a["id"],
        ),
    }
    for case, (body, named) in attempts.items():
        response = await post(gw, body, signed(body, a_secret, named))
        assert response.status_code == 403, (case, response.text)
    # Nor does the old platform-wide way work: no account named, no platform secret.
    legacy = batch(f"x-{uuid.uuid4().hex}", "+15550000004", workspace_id=b_owner["workspace"]["id"])
    response = await post(gw, legacy, signed(legacy, a_secret, None))
    assert response.status_code == 401, response.text

    # A's own post arrives in A's workspace: the positive signal the refusals are read against.
    visitor = f"+1555{uuid.uuid4().int % 10**7:07d}"
    own = batch(f"own-{uuid.uuid4().hex}", visitor)
    response = await post(gw, own, signed(own, a_secret, a["id"]))
    assert (response.status_code, response.json()) == (200, {"accepted": 1})
    await arrived(gw, a_owner, visitor)
    assert await visitors_of(gw, b_owner) == set()
    assert await visitors_of(gw, a_owner) == {visitor}


async def test_a_rotated_secret_stops_working_and_the_new_one_works(
    gw: httpx.AsyncClient,
) -> None:
    owner = await make_owner(gw, "rotate")
    account = await integrator_account(gw, owner, "chatgpt")
    old = account["inbound_signing_secret"]
    first = f"+1555{uuid.uuid4().int % 10**7:07d}"
    body = batch(f"before-{uuid.uuid4().hex}", first)
    assert (await post(gw, body, signed(body, old, account["id"]), "chatgpt")).status_code == 200

    rotated = await gw.post(
        f"{API}/channel-accounts/{account['id']}/rotate-secret", headers=owner["headers"]
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["inbound_signing_secret"]
    assert new and new != old
    read = await gw.get(f"{API}/channel-accounts/{account['id']}", headers=owner["headers"])
    assert read.json()["inbound_signing_secret"] is None  # shown once
    assert new not in read.text

    stale = batch(f"stale-{uuid.uuid4().hex}", f"+1555{uuid.uuid4().int % 10**7:07d}")
    response = await post(gw, stale, signed(stale, old, account["id"]), "chatgpt")
    assert response.status_code == 403, response.text
    second = f"+1555{uuid.uuid4().int % 10**7:07d}"
    fresh = batch(f"after-{uuid.uuid4().hex}", second)
    response = await post(gw, fresh, signed(fresh, new, account["id"]), "chatgpt")
    assert response.status_code == 200, response.text
    await arrived(gw, owner, second)
    assert await visitors_of(gw, owner) == {first, second}


async def test_rotation_is_for_integrator_accounts_and_their_owner_only(
    gw: httpx.AsyncClient,
) -> None:
    owner, stranger = await make_owner(gw, "rot-own"), await make_owner(gw, "rot-x")
    account = await integrator_account(gw, owner)
    theirs = await gw.post(
        f"{API}/channel-accounts/{account['id']}/rotate-secret", headers=stranger["headers"]
    )
    assert theirs.status_code == 404
    assert "inbound_signing_secret" not in theirs.text
    whatsapp = await gw.post(
        f"{API}/channel-accounts/",
        headers=owner["headers"],
        json={"channel": "whatsapp", "account_id": f"pn-{uuid.uuid4().hex[:10]}"},
    )
    assert whatsapp.json()["inbound_signing_secret"] is None
    refused = await gw.post(
        f"{API}/channel-accounts/{whatsapp.json()['id']}/rotate-secret", headers=owner["headers"]
    )
    assert refused.status_code == 409
    assert "provider signs" in refused.json()["detail"]


async def test_the_gateway_never_forwards_the_internal_secret_lookup(
    gw: httpx.AsyncClient,
) -> None:
    owner = await make_owner(gw, "internal")
    account = await integrator_account(gw, owner)
    path = f"{API}/internal/channel-accounts/{account['id']}/inbound-secret"
    for headers in ({}, owner["headers"]):
        response = await gw.get(path, headers=headers)
        assert response.status_code == 404, response.text
        assert account["inbound_signing_secret"] not in response.text
