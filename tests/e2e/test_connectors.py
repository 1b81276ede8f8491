"""Connectors through the running system: the workspace projection, masking and cleanup."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from shared.testing import wait_until

from .conftest import create_workspace, signup

TOKEN = "calendly-personal-access-token-0123456789"


async def test_connector_lifecycle_follows_its_workspace(api: httpx.AsyncClient, db) -> None:
    owner = await signup(api)
    workspace = await create_workspace(api, owner)

    async def created() -> httpx.Response | None:
        response = await api.post(
            "/api/v1/connectors/",
            headers=owner["headers"],
            json={"name": "Calendly", "config": {"provider": "calendly", "access_token": TOKEN}},
        )
        return response if response.status_code == 201 else None

    connector = (await wait_until(created)).json()  # once connectors knows the workspace
    assert TOKEN not in str(connector)
    assert connector["config"]["access_token"].endswith(TOKEN[-4:])

    activated = await api.post(
        f"/api/v1/connectors/{connector['id']}/activate", headers=owner["headers"]
    )
    assert activated.status_code == 200, activated.text
    active = await api.get("/api/v1/connectors/active", headers=owner["headers"])
    assert active.json()["id"] == connector["id"]

    stranger = await signup(api, "stranger")
    hidden = await api.get(f"/api/v1/connectors/{connector['id']}", headers=stranger["headers"])
    assert hidden.status_code == 404

    async with db.connect() as conn:
        stored = await conn.scalar(
            text("SELECT config_encrypted FROM connectors.connectors WHERE id = :id"),
            {"id": connector["id"]},
        )
    assert stored and TOKEN not in stored

    await api.delete("/api/v1/users/me", headers=owner["headers"])

    async def connectors_removed() -> bool:
        async with db.connect() as conn:
            left = await conn.scalar(
                text("SELECT count(*) FROM connectors.connectors WHERE workspace_id = :w"),
                {"w": workspace["id"]},
            )
        return left == 0

    await wait_until(connectors_removed)  # user.deleted -> workspace.deleted -> connectors
