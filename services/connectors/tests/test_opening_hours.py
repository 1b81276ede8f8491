"""GET /connectors/active/hours: the built-in calendar's weekly hours and upcoming overrides
in the workspace's timezone; providers that keep their hours to themselves say so."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from connectors.domain.config import parse_config
from connectors.domain.hours import DayOverride, opening_hours

from .calendar_support import ACTIVE, builtin_config
from .support import BASE, agendapro_config, calendly_config, create_active, square_config

HOURS = f"{ACTIVE}/hours"
ZONE = "Pacific/Auckland"  # far from UTC: "today" must be the workspace's own date


def local_today() -> date:
    return datetime.now(ZoneInfo(ZONE)).date()


async def test_builtin_calendar_answers_weekly_hours_and_upcoming_overrides(client, owner) -> None:
    me = await owner(ZONE)
    today = local_today()
    config = builtin_config(
        weekly_hours={
            "mon": [["15:00", "19:00"], ["09:00", "13:00"]],
            "tue": [["09:00", "13:00"]],
            "sat": [["10:00", "24:00"]],
        },
        date_overrides=[
            {"date": (today + timedelta(days=10)).isoformat(), "hours": [["10:00", "14:00"]]},
            {"date": (today - timedelta(days=1)).isoformat(), "hours": []},  # history
            {"date": today.isoformat(), "hours": []},  # closed today
            {"date": (today + timedelta(days=95)).isoformat(), "hours": []},  # too far ahead
        ],
        max_days_ahead=30,
        min_notice_minutes=120,
    )
    await create_active(client, me.headers, config)

    response = await client.get(HOURS, headers=me.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "provider": "builtin",
        "known": True,
        "timezone": ZONE,
        "weekly": [
            {"weekday": 0, "start": "09:00", "end": "13:00"},
            {"weekday": 0, "start": "15:00", "end": "19:00"},
            {"weekday": 1, "start": "09:00", "end": "13:00"},
            {"weekday": 5, "start": "10:00", "end": "24:00"},
        ],
        "overrides": [
            {"date": today.isoformat(), "ranges": []},
            {
                "date": (today + timedelta(days=10)).isoformat(),
                "ranges": [{"start": "10:00", "end": "14:00"}],
            },
        ],
        "horizon_days": 30,
        "min_notice_minutes": 120,
    }


async def test_overrides_reach_as_far_as_a_horizon_beyond_ninety_days(client, owner) -> None:
    me = await owner(ZONE)
    far = local_today() + timedelta(days=150)
    await create_active(
        client,
        me.headers,
        builtin_config(max_days_ahead=180, date_overrides=[{"date": far.isoformat()}]),
    )
    body = (await client.get(HOURS, headers=me.headers)).json()
    assert body["overrides"] == [{"date": far.isoformat(), "ranges": []}]
    assert body["horizon_days"] == 180


@pytest.mark.parametrize(
    ("config", "provider"),
    [
        (calendly_config(), "calendly"),
        (square_config(), "square"),
        (agendapro_config(), "agendapro"),
    ],
)
async def test_other_providers_say_their_hours_are_not_known(
    client, owner, calendly, square, agendapro, config, provider
) -> None:
    me = await owner(ZONE)
    await create_active(client, me.headers, config)
    fakes = (calendly, square, agendapro)
    calls = sum(len(f.state.requests) for f in fakes)
    response = await client.get(HOURS, headers=me.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "provider": provider,
        "known": False,
        "timezone": None,
        "weekly": [],
        "overrides": [],
        "horizon_days": None,
        "min_notice_minutes": None,
    }
    # Answered from our own records: no provider was asked.
    assert sum(len(f.state.requests) for f in fakes) == calls


async def test_no_active_connector_is_a_readable_404(client, owner, as_user) -> None:
    me = await owner(ZONE)
    response = await client.get(HOURS, headers=me.headers)
    assert response.status_code == 404
    assert response.json() == {
        "detail": "This workspace has no active connector; activate one first"
    }

    connector = await create_active(client, me.headers, builtin_config())
    assert (await client.get(HOURS, headers=me.headers)).status_code == 200
    off = await client.post(f"{BASE}/{connector['id']}/deactivate", headers=me.headers)
    assert off.status_code == 200, off.text
    assert (await client.get(HOURS, headers=me.headers)).status_code == 404


async def test_each_owner_reads_only_their_own_calendars_hours(client, owner, as_user) -> None:
    first, second = await owner(ZONE), await owner("Europe/Madrid")
    await create_active(client, first.headers, builtin_config(min_notice_minutes=30))
    assert (await client.get(HOURS, headers=second.headers)).status_code == 404
    await create_active(client, second.headers, builtin_config(min_notice_minutes=240))
    mine = (await client.get(HOURS, headers=second.headers)).json()
    assert (mine["timezone"], mine["min_notice_minutes"]) == ("Europe/Madrid", 240)

    anonymous = await client.get(HOURS, headers=as_user(None))
    assert anonymous.status_code == 401


def test_today_is_the_first_override_shown_and_the_order_is_by_date() -> None:
    today = date(2026, 12, 31)
    config = parse_config(
        builtin_config(
            date_overrides=[
                {"date": "2027-01-06", "hours": [["10:00", "12:00"]]},
                {"date": "2026-12-30"},
                {"date": "2026-12-31"},
            ]
        )
    )
    hours = opening_hours(config, ZONE, today)
    assert hours.overrides == (
        DayOverride(date(2026, 12, 31), ()),
        DayOverride(date(2027, 1, 6), (("10:00", "12:00"),)),
    )
