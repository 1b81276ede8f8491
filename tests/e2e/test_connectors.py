"""Connectors through the running system: the workspace projection, masking and cleanup."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

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


async def test_a_built_in_calendar_takes_one_booking_of_fifty_racing_through_the_gateway(
    api: httpx.AsyncClient,
) -> None:
    """A fresh owner books with no outside account: services become event types, 50
    visitors race for one slot over real HTTP, one wins, the rest get a clear 409; a
    cancellation frees the slot for the next visitor."""
    owner = await signup(api)
    await create_workspace(api, owner)
    service = await api.post(
        "/api/v1/workspace-services/",
        headers=owner["headers"],
        json={"name": "Consultation", "duration_minutes": 30},
    )
    assert service.status_code == 201, service.text

    async def created() -> httpx.Response | None:
        response = await api.post(
            "/api/v1/connectors/",
            headers=owner["headers"],
            json={"name": "Calendar", "provider": "builtin", "config": {}},
        )
        return response if response.status_code == 201 else None

    calendar = (await wait_until(created)).json()
    activated = await api.post(
        f"/api/v1/connectors/{calendar['id']}/activate", headers=owner["headers"]
    )
    assert activated.status_code == 200, activated.text

    async def event_types() -> list | None:
        response = await api.get("/api/v1/connectors/active/event-types", headers=owner["headers"])
        return response.json()["data"] if response.status_code == 200 else None

    (event_type,) = await wait_until(event_types)
    assert event_type["id"] == service.json()["id"]

    zone = ZoneInfo("Europe/Madrid")
    day = datetime.now(zone).date() + timedelta(days=1)
    while day.weekday() >= 5:  # the default hours are weekdays 09:00-17:00
        day += timedelta(days=1)
    available = await api.get(
        "/api/v1/connectors/active/availability",
        headers=owner["headers"],
        params={"event_type": event_type["id"], "start": day, "end": day},
    )
    assert available.status_code == 200, available.text
    start = available.json()["data"][0]["start"]
    assert datetime.fromisoformat(start).astimezone(zone).strftime("%H:%M") == "09:00"

    async def attempt(i: int) -> httpx.Response:
        return await api.post(
            "/api/v1/connectors/active/bookings",
            headers=owner["headers"],
            json={"event_type": event_type["id"], "start": start, "name": f"Visitor {i}"},
        )

    answers = await asyncio.gather(*(attempt(i) for i in range(50)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 49, statuses
    (won,) = [a.json() for a in answers if a.status_code == 201]

    listed = await api.get(
        "/api/v1/connectors/active/bookings",
        headers=owner["headers"],
        params={"upcoming": "true"},
    )
    assert [b["id"] for b in listed.json()["data"]] == [won["id"]]
    cancelled = await api.delete(
        f"/api/v1/connectors/active/bookings/{won['id']}", headers=owner["headers"]
    )
    assert cancelled.status_code == 204
    assert (await attempt(51)).status_code == 201
