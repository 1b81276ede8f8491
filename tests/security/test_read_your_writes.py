"""A frontend creates a workspace and uses it at once, in every service that needs it."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.e2e.conftest import create_workspace, signup

ROUNDS = 100


async def _round(gw: httpx.AsyncClient) -> list[str]:
    owner = await signup(gw, "ryw")
    workspace = await create_workspace(gw, owner)
    headers = owner["headers"]
    failures = []
    account = await gw.post(
        "/api/v1/channel-accounts/",
        headers=headers,
        json={
            "channel": "whatsapp",
            "account_id": f"pn-{uuid.uuid4().hex[:12]}",
            "credentials": {"access_token": "wa-token-" + "x" * 20},
        },
    )
    if account.status_code != 201:
        failures.append(f"channel account: {account.status_code} {account.text}")
    connector = await gw.post(
        "/api/v1/connectors/",
        headers=headers,
        json={"name": "Calendly", "config": {"provider": "calendly", "access_token": "x" * 24}},
    )
    if connector.status_code != 201:
        failures.append(f"connector: {connector.status_code} {connector.text}")
    # Each visitor from its own address (the test client is the trusted proxy), so the web
    # chat's per-address limit does not count them as one.
    visitor = {"X-Forwarded-For": f"203.0.113.{uuid.uuid4().int % 250 + 1}"}
    chat = await gw.post(
        f"/api/v1/public/workspaces/{workspace['handle']}/conversations", json={}, headers=visitor
    )
    if chat.status_code != 201:
        failures.append(f"web chat: {chat.status_code} {chat.text}")
    return failures


async def test_every_service_sees_a_new_workspace_immediately(gw: httpx.AsyncClient) -> None:
    failures: list[str] = []
    for _ in range(ROUNDS // 10):  # ten frontends at a time
        results = await asyncio.gather(*(_round(gw) for _ in range(10)))
        failures += [f for r in results for f in r]
    assert not failures, f"{len(failures)} failed follow-ups, first: {failures[:3]}"
