"""Channel-account squatting: claiming someone else's WhatsApp number, Page or Twilio number.

A claim is stored whatever its proof, but it routes customers' messages only once the provider
confirms, with the claimant's own credentials, that they reach that account (the loopback
Graph API and Twilio fakes know who owns what). A verified claim displaces unproved ones, and
the 409 for a second verified claim names nobody.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import make_engine
from shared.testing import wait_until
from tests.e2e.conftest import System, fakes, meta_headers, whatsapp_text
from tests.security.objects import make_owner

API = "/api/v1"


@pytest.fixture(scope="module")
async def db(security_system: System) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(security_system.env["DATABASE_URL"], pool_size=1)
    yield engine
    await engine.dispose()


def whatsapp_webhook(phone_number_id: str, wamid: str, visitor: str) -> tuple[bytes, dict]:
    body = whatsapp_text(phone_number_id, visitor, wamid, "I'd like to book")
    return body, meta_headers(body)


async def claim(
    gw: httpx.AsyncClient, owner: dict, channel: str, account_id: str, credentials: Any = None
) -> httpx.Response:
    body: dict[str, Any] = {"channel": channel, "account_id": account_id}
    if credentials is not None:
        body["credentials"] = credentials
    return await gw.post(f"{API}/channel-accounts/", headers=owner["headers"], json=body)


async def conversations_of(gw: httpx.AsyncClient, owner: dict) -> list[dict]:
    response = await gw.get(f"{API}/conversations/", headers=owner["headers"])
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_a_squatter_without_proof_routes_nothing_and_the_owner_still_connects(
    gw: httpx.AsyncClient, providers: Any
) -> None:
    victim = await make_owner(gw, "victim")
    squatter = await make_owner(gw, "squat")
    forger = await make_owner(gw, "forge")
    phone_number_id = f"pn-{uuid.uuid4().hex[:12]}"
    victim_token = f"victim-token-{uuid.uuid4().hex}"
    forger_token = f"forger-token-{uuid.uuid4().hex}"
    providers.graph.state.own(phone_number_id, victim_token)
    providers.graph.state.own(f"pn-forger-{uuid.uuid4().hex[:8]}", forger_token)

    # Claimed first, with nothing, or with a real token of another WhatsApp account.
    bare = await claim(gw, squatter, "whatsapp", phone_number_id)
    assert (bare.status_code, bare.json()["verification"]) == (201, "unverified"), bare.text
    forged = await claim(gw, forger, "whatsapp", phone_number_id, {"access_token": forger_token})
    assert (forged.status_code, forged.json()["verification"]) == (201, "failed"), forged.text
    assert "cannot be loaded" in forged.json()["verification_reason"]

    # The real owner is not locked out: the claim with proof wins.
    owned = await claim(gw, victim, "whatsapp", phone_number_id, {"access_token": victim_token})
    assert owned.status_code == 201, owned.text
    assert owned.json()["verification"] == "verified"
    assert owned.json()["verified_at"] is not None
    read = await gw.get(f"{API}/channel-accounts/{bare.json()['id']}", headers=squatter["headers"])
    assert read.json()["verification"] == "failed"
    assert "Another workspace proved" in read.json()["verification_reason"]
    for secret in (victim["email"], victim["workspace"]["handle"], victim["workspace"]["id"]):
        assert secret not in read.text

    # A customer writes: the owner gets it, the squatters get nothing.
    visitor = f"34{uuid.uuid4().int % 10**9:09d}"
    body, headers = whatsapp_webhook(phone_number_id, f"wamid.{uuid.uuid4().hex}", visitor)
    response = await gw.post(f"{API}/webhooks/whatsapp", content=body, headers=headers)
    assert response.status_code == 200, response.text
    mine = await wait_until(
        lambda: _with_visitor(conversations_of(gw, victim), visitor), timeout=20
    )
    assert mine
    assert await conversations_of(gw, squatter) == []
    assert await conversations_of(gw, forger) == []


async def _with_visitor(pending: Any, visitor: str) -> list[dict] | None:
    found = [c for c in await pending if c["visitor_id"] == visitor]
    return found or None


async def test_an_unverified_claim_receives_nothing(gw: httpx.AsyncClient, db: AsyncEngine) -> None:
    squatter = await make_owner(gw, "squat")
    phone_number_id = f"pn-{uuid.uuid4().hex[:12]}"
    bare = await claim(gw, squatter, "whatsapp", phone_number_id)
    assert bare.json()["verification"] == "unverified"
    wamid = f"wamid.{uuid.uuid4().hex}"
    body, headers = whatsapp_webhook(phone_number_id, wamid, "34600999888")
    response = await gw.post(f"{API}/webhooks/whatsapp", content=body, headers=headers)
    assert response.status_code == 200, response.text

    async def unrouted() -> bool:  # the consumer handled it: recorded as not routable
        async with db.connect() as conn:
            found = await conn.execute(
                text("SELECT reason FROM conversations.unrouted_messages WHERE external_id = :e"),
                {"e": wamid},
            )
            return found.scalar() == "unknown_account"

    await wait_until(unrouted, timeout=20)
    assert await conversations_of(gw, squatter) == []


async def test_a_second_verified_claim_is_a_409_that_names_nobody(
    gw: httpx.AsyncClient, providers: Any
) -> None:
    owner, other = await make_owner(gw, "owner"), await make_owner(gw, "other")
    page_id = f"page-{uuid.uuid4().hex[:12]}"
    token = f"page-token-{uuid.uuid4().hex}"
    providers.graph.state.own(page_id, token)
    first = await claim(gw, owner, "messenger", page_id, {"page_access_token": token})
    assert first.json()["verification"] == "verified", first.text
    # Even with a token that reads the Page (an agency's, say): one workspace routes it.
    second = await claim(gw, other, "messenger", page_id, {"page_access_token": token})
    assert second.status_code == 409, second.text
    assert "already connected to another workspace" in second.json()["detail"]
    for secret in (
        owner["email"],
        owner["id"],
        owner["workspace"]["handle"],
        owner["workspace"]["id"],
        first.json()["id"],
    ):
        assert str(secret) not in second.text
    listed = await gw.get(f"{API}/channel-accounts/", headers=other["headers"])
    assert listed.json()["count"] == 0


async def test_a_twilio_number_is_proved_by_the_account_that_owns_it(
    gw: httpx.AsyncClient, providers: Any
) -> None:
    victim, squatter = await make_owner(gw, "victim"), await make_owner(gw, "squat")
    number = f"+1555{uuid.uuid4().int % 10**7:07d}"
    victim_sid = "AC" + uuid.uuid4().hex
    victim_token = f"victim-twilio-{uuid.uuid4().hex}"
    providers.twilio.state.accounts[victim_sid] = victim_token
    providers.twilio.state.own(number, victim_sid)

    # The squatter's own, valid Twilio account does not hold the number.
    squat = await claim(
        gw,
        squatter,
        "sms",
        number,
        {"account_sid": fakes.TWILIO_SID, "auth_token": fakes.TWILIO_TOKEN},
    )
    assert (squat.status_code, squat.json()["verification"]) == (201, "failed"), squat.text
    assert "not a phone number of this Twilio account" in squat.json()["verification_reason"]
    owned = await claim(
        gw, victim, "sms", number, {"account_sid": victim_sid, "auth_token": victim_token}
    )
    assert owned.json()["verification"] == "verified", owned.text


async def test_a_failed_claim_is_verified_once_its_credentials_reach_the_account(
    gw: httpx.AsyncClient, providers: Any
) -> None:
    owner = await make_owner(gw, "owner")
    ig_id = f"ig-{uuid.uuid4().hex[:12]}"
    token = f"ig-token-{uuid.uuid4().hex}"
    providers.graph.state.own(ig_id, token)
    wrong = await claim(gw, owner, "instagram", ig_id, {"page_access_token": "x" * 24})
    assert wrong.json()["verification"] == "failed", wrong.text
    account = wrong.json()["id"]
    fixed = await gw.patch(
        f"{API}/channel-accounts/{account}",
        headers=owner["headers"],
        json={"credentials": {"page_access_token": token}},
    )
    assert fixed.json()["verification"] == "verified", fixed.text
    again = await gw.post(f"{API}/channel-accounts/{account}/verify", headers=owner["headers"])
    assert (again.status_code, again.json()["verification"]) == (200, "verified")
