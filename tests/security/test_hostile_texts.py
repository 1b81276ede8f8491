"""The longest, most repetitive visitor texts we could build, sent the way visitors send them
(a signed WhatsApp webhook, the web chat), leave every business answered: the gateway's and
conversations' /health keep answering while the webhook check, inbound parsing, storing and
the agent read them, and each text is stored whole."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import make_engine
from shared.testing import HOSTILE_TEXTS, wait_until
from tests.e2e.conftest import System, meta_headers, whatsapp_text
from tests.security.objects import make_owner

API = "/api/v1"

# /health must stay under this while the texts are read; an unbounded reading held it for
# seconds (4.9 s for 1,200 spaces). The headroom is for two shared cores, not for the reading.
SLOWEST_HEALTH_SECONDS = 0.25


@pytest.fixture(scope="module")
async def db(security_system: System) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(security_system.env["DATABASE_URL"], pool_size=1)
    yield engine
    await engine.dispose()


async def _stored(db: AsyncEngine, external_ids: list[str]) -> list[str] | None:
    async with db.connect() as conn:
        rows = await conn.execute(
            text("SELECT content FROM conversations.messages WHERE external_id = ANY(:ids)"),
            {"ids": external_ids},
        )
        found = [row.content for row in rows]
    return found if len(found) == len(external_ids) else None


async def test_the_worst_texts_leave_every_service_responsive(
    gw: httpx.AsyncClient, security_system: System, providers: Any, db: AsyncEngine
) -> None:
    owner = await make_owner(gw, "hostile")
    service = {"name": "Haircut", "duration_minutes": 30}
    created = await gw.post(f"{API}/workspace-services/", headers=owner["headers"], json=service)
    assert created.status_code == 201, created.text
    phone_number_id = f"pn-{uuid.uuid4().hex[:12]}"
    token = f"hostile-token-{uuid.uuid4().hex}"
    providers.graph.state.own(phone_number_id, token)
    claimed = await gw.post(
        f"{API}/channel-accounts/",
        headers=owner["headers"],
        json={
            "channel": "whatsapp",
            "account_id": phone_number_id,
            "credentials": {"access_token": token},
        },
    )
    assert claimed.json()["verification"] == "verified", claimed.text

    slowest: dict[str, float] = {"gateway": 0.0, "conversations": 0.0}
    stop = asyncio.Event()

    async def probe(name: str, url: str) -> None:
        async with httpx.AsyncClient(base_url=url) as client:
            while not stop.is_set():
                started = time.perf_counter()
                assert (await client.get("/health")).status_code == 200
                slowest[name] = max(slowest[name], time.perf_counter() - started)
                await asyncio.sleep(0.01)

    probes = [
        asyncio.create_task(probe("gateway", security_system.gateway)),
        asyncio.create_task(probe("conversations", security_system.url("conversations"))),
    ]
    wamids: list[str] = []
    handle = owner["workspace"]["handle"]
    opened = await gw.post(f"{API}/public/workspaces/{handle}/conversations", json={})
    assert opened.status_code == 201, opened.text
    web = opened.json()
    web_post = f"{API}/public/conversations/{web['conversation_id']}/messages"
    visitor_headers = {"X-Visitor-Token": web["visitor_token"]}
    try:
        said = await gw.post(web_post, json={"content": "hi"}, headers=visitor_headers)
        assert said.status_code == 201, said.text
        for hostile in HOSTILE_TEXTS:
            # A visitor who has just been shown the list of services, then the text.
            visitor = f"34{uuid.uuid4().int % 10**9:09d}"
            for words in ("hi", hostile):
                wamid = f"wamid.{uuid.uuid4().hex}"
                body = whatsapp_text(phone_number_id, visitor, wamid, words)
                sent = await gw.post(
                    f"{API}/webhooks/whatsapp", content=body, headers=meta_headers(body)
                )
                assert sent.status_code == 200, sent.text
                wamids.append(wamid)
            said = await gw.post(web_post, json={"content": hostile}, headers=visitor_headers)
            assert said.status_code == 201, said.text
        stored = await wait_until(lambda: _stored(db, wamids), timeout=60)
    finally:
        stop.set()
        await asyncio.gather(*probes)
    assert sorted(stored) == sorted(["hi"] * len(HOSTILE_TEXTS) + list(HOSTILE_TEXTS))
    history = await gw.get(f"{web_post}?limit=100", headers=visitor_headers)
    visitor_said = [m["content"] for m in history.json()["data"] if m["role"] == "visitor"]
    assert visitor_said == ["hi", *(hostile.strip() for hostile in HOSTILE_TEXTS)]  # web trims
    for name, seconds in slowest.items():
        assert seconds < SLOWEST_HEALTH_SECONDS, f"{name} /health took {seconds * 1000:.0f} ms"
