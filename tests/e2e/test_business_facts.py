"""Business facts and opening hours through the running system: the owner sets the facts on
the gateway, visitors read them on the public page, they reach the conversations service's
projection on the bus (what the agent reads), and the agent's own calendar client reads the
built-in calendar's hours from the real connectors service."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from conversations.agent.calendar import ConnectorsCalendar
from conversations.agent.knowledge import BusinessFacts, FaqEntry, Policies
from conversations.connectors import Connectors
from conversations.db.agent import AgentRepository
from shared.testing import wait_until
from shared.tokens import audience_key

from .conftest import SECRET, System, create_workspace, signup

API = "/api/v1"


async def test_facts_reach_the_public_page_and_the_agents_projection(
    api: httpx.AsyncClient, db: AsyncEngine
) -> None:
    owner = await signup(api)
    workspace = await create_workspace(api, owner)
    patched = await api.patch(
        f"{API}/workspaces/{workspace['id']}",
        headers=owner["headers"],
        json={
            "address": "Calle Mayor 1, Madrid",
            "phone": "+34 912 345 678",
            "payment_methods": ["Cash", "Card"],
            "policies": {"cancellation": "Free up to 24 h before."},
            "faq": [{"question": "Parking?", "answer": "In the back.", "language": "en"}],
        },
    )
    assert patched.status_code == 200, patched.text
    public = (await api.get(f"{API}/public/workspaces/{workspace['handle']}")).json()
    assert (public["phone"], public["payment_methods"]) == ("+34912345678", ["Cash", "Card"])

    expected = BusinessFacts(
        address="Calle Mayor 1, Madrid",
        phone="+34912345678",
        payment_methods=("Cash", "Card"),
        policies=Policies(cancellation="Free up to 24 h before."),
        faq=(FaqEntry(question="Parking?", answer="In the back.", language="en"),),
    )

    async def projected() -> BusinessFacts | None:
        async with AsyncSession(db) as session:
            found = await AgentRepository(session).business_facts(uuid.UUID(workspace["id"]))
        return found if found == expected else None

    assert await wait_until(projected, timeout=20) == expected


async def test_the_agents_calendar_reads_the_builtin_calendars_hours(
    api: httpx.AsyncClient, system: System
) -> None:
    owner = await signup(api)
    await create_workspace(api, owner)  # Europe/Madrid
    closed = datetime.now(ZoneInfo("Europe/Madrid")).date() + timedelta(days=3)

    async def created() -> httpx.Response | None:
        response = await api.post(
            f"{API}/connectors/",
            headers=owner["headers"],
            json={
                "name": "Calendar",
                "provider": "builtin",
                "config": {
                    "weekly_hours": {"sat": [["10:00", "14:00"]]},
                    "date_overrides": [{"date": closed.isoformat(), "hours": []}],
                },
            },
        )
        return response if response.status_code == 201 else None

    connector = (await wait_until(created)).json()
    activated = await api.post(
        f"{API}/connectors/{connector['id']}/activate", headers=owner["headers"]
    )
    assert activated.status_code == 200, activated.text

    through_gateway = await api.get(f"{API}/connectors/active/hours", headers=owner["headers"])
    assert through_gateway.status_code == 200, through_gateway.text
    assert through_gateway.json()["weekly"] == [{"weekday": 5, "start": "10:00", "end": "14:00"}]

    connectors = Connectors(system.url("connectors"), audience_key(SECRET, "connectors"), 5.0)
    try:
        hours = await ConnectorsCalendar(connectors, uuid.UUID(str(owner["id"]))).hours()
    finally:
        await connectors.close()
    assert hours.known and hours.timezone == "Europe/Madrid"
    assert hours.weekly == {5: ((time(10), time(14)),)}
    assert hours.ranges_on(closed) == ()
    assert hours.ranges_on(date(2030, 1, 5)) == ((time(10), time(14)),)  # a Saturday
