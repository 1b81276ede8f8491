"""Helpers for the built-in calendar's tests: an owner with services and an active calendar."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.events import WorkspaceServiceCreatedV1
from shared.testing import wait_until

from .support import BASE, create_active

ACTIVE = f"{BASE}/active"
ALL_WEEK = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def builtin_config(**overrides: Any) -> dict[str, Any]:
    return {
        "provider": "builtin",
        "weekly_hours": ALL_WEEK,
        "min_notice_minutes": 60,
        "max_days_ahead": 60,
        "slot_step_minutes": 15,
    } | overrides


@dataclass
class Calendar:
    me: Any  # conftest.Owner
    connector: dict[str, Any]
    services: dict[str, uuid.UUID]  # by name

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.me.headers)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.me.timezone)

    def day(self, days_ahead: int = 3) -> date:
        return (datetime.now(self.zone) + timedelta(days=days_ahead)).date()

    def at(self, day: date, hhmm: str) -> str:
        h, m = map(int, hhmm.split(":"))
        return datetime(day.year, day.month, day.day, h, m, tzinfo=self.zone).isoformat()


async def publish_service(
    publish, query, workspace_id: uuid.UUID, name: str, duration: int, active: bool = True
) -> uuid.UUID:
    service_id = uuid.uuid4()
    await publish(
        WorkspaceServiceCreatedV1(
            service_id=service_id,
            workspace_id=workspace_id,
            name=name,
            duration_minutes=duration,
            is_active=active,
            position=0,
        )
    )

    async def projected() -> bool:
        rows = await query(
            "SELECT 1 FROM connectors.workspace_services WHERE service_id = :s", s=service_id
        )
        return bool(rows)

    await wait_until(projected)
    return service_id


async def calendar(
    client,
    owner,
    publish,
    query,
    *,
    timezone: str = "Europe/Madrid",
    services: tuple[tuple[str, int, bool], ...] = (("Massage", 60, True),),
    **config: Any,
) -> Calendar:
    me = await owner(timezone)
    connector = await create_active(client, me.headers, builtin_config(**config))
    ids = {}
    for name, duration, active in services:
        ids[name] = await publish_service(publish, query, me.workspace_id, name, duration, active)
    return Calendar(me, connector, ids)


async def book(client, cal: Calendar, start: str, service: str = "Massage", **extra: Any):
    body = {"event_type": str(cal.services[service]), "start": start, "name": "Vera"} | extra
    return await client.post(f"{ACTIVE}/bookings", json=body, headers=cal.headers)


async def starts(client, cal: Calendar, day: date, service: str = "Massage") -> list[str]:
    response = await client.get(
        f"{ACTIVE}/availability",
        params={"event_type": str(cal.services[service]), "start": day, "end": day},
        headers=cal.headers,
    )
    assert response.status_code == 200, response.text
    return [s["start"] for s in response.json()["data"]]


def local(iso: str, zone: ZoneInfo) -> str:
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%H:%M")
