"""Small helpers shared by the tests."""

from __future__ import annotations

from typing import Any

import httpx

from .fakes import CALENDLY_TOKEN, SQUARE_TOKEN

BASE = "/api/v1/connectors"


def calendly_config(**overrides: Any) -> dict[str, Any]:
    return {"provider": "calendly", "access_token": CALENDLY_TOKEN} | overrides


def square_config(**overrides: Any) -> dict[str, Any]:
    return {
        "provider": "square",
        "access_token": SQUARE_TOKEN,
        "location_id": "LOC1",
        "environment": "sandbox",
    } | overrides


def agendapro_config(**overrides: Any) -> dict[str, Any]:
    return {"provider": "agendapro", "api_key": "apk_live_abcdefgh1234", "location_id": 3257} | (
        overrides
    )


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], config: dict[str, Any], name: str = "Main"
) -> dict[str, Any]:
    response = await client.post(f"{BASE}/", json={"name": name, "config": config}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def create_active(
    client: httpx.AsyncClient, headers: dict[str, str], config: dict[str, Any]
) -> dict[str, Any]:
    connector = await create(client, headers, config)
    response = await client.post(f"{BASE}/{connector['id']}/activate", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()
