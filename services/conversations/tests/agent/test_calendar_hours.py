"""`ConnectorsCalendar.hours()` over real HTTP against a loopback stand-in of connectors'
`GET /api/v1/connectors/active/hours` (its body as connectors' own tests pin it): wall-clock
ranges become times ("24:00" the end of the day), dates their overrides; errors map as the
calendar's other calls map them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, time
from typing import Any

import pytest
from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse

from conversations.agent.calendar import (
    CalendarUnavailable,
    ConnectorsCalendar,
    NoActiveConnector,
    OpeningHours,
)
from conversations.connectors import Connectors
from shared.testing import LoopbackServer
from shared.tokens import InvalidInternalToken, verify_internal_token

KEY = "connectors-token-key-for-the-hours-test"

BUILTIN = {
    "provider": "builtin",
    "known": True,
    "timezone": "Europe/Madrid",
    "weekly": [
        {"weekday": 0, "start": "09:00", "end": "13:00"},
        {"weekday": 0, "start": "15:00", "end": "19:00"},
        {"weekday": 5, "start": "10:00", "end": "24:00"},
    ],
    "overrides": [
        {"date": "2026-12-24", "ranges": [{"start": "09:00", "end": "12:00"}]},
        {"date": "2026-12-28", "ranges": []},
    ],
    "horizon_days": 60,
    "min_notice_minutes": 120,
}
NOT_KNOWN = {
    "provider": "calendly",
    "known": False,
    "timezone": None,
    "weekly": [],
    "overrides": [],
    "horizon_days": None,
    "min_notice_minutes": None,
}


class FakeHours(LoopbackServer):
    """Answers each owner what the test set for them; checks the internal token as
    connectors does (audience `connectors`, the owner as subject)."""

    def __init__(self) -> None:
        self.answers: dict[uuid.UUID, tuple[int, Any]] = {}
        app = FastAPI()

        @app.get("/api/v1/connectors/active/hours")
        async def hours(authorization: str | None = Header(default=None)) -> Any:
            token = (authorization or "").removeprefix("Bearer ")
            try:
                owner = verify_internal_token(KEY, "connectors", token).user_id
            except InvalidInternalToken:
                return JSONResponse({"detail": "Not authenticated"}, 401)
            status, body = self.answers.get(
                owner, (404, {"detail": "This workspace has no active connector"})
            )
            return JSONResponse(body, status)

        super().__init__(app, "fake connectors hours")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeHours]:
    server = FakeHours().start()
    yield server
    server.stop()


async def hours_of(base_url: str, owner: uuid.UUID, key: str = KEY) -> OpeningHours:
    connectors = Connectors(base_url, key, 2.0)
    try:
        return await ConnectorsCalendar(connectors, owner).hours()
    finally:
        await connectors.close()


async def test_builtin_hours_become_weekly_ranges_and_dated_overrides(fake) -> None:
    owner = uuid.uuid4()
    fake.answers[owner] = (200, BUILTIN)
    hours = await hours_of(fake.url, owner)
    assert hours == OpeningHours(
        known=True,
        timezone="Europe/Madrid",
        weekly={
            0: ((time(9), time(13)), (time(15), time(19))),
            5: ((time(10), time.max),),
        },
        overrides={date(2026, 12, 24): ((time(9), time(12)),), date(2026, 12, 28): ()},
        horizon_days=60,
        min_notice_minutes=120,
    )
    assert hours.ranges_on(date(2026, 12, 21)) == ((time(9), time(13)), (time(15), time(19)))
    assert hours.ranges_on(date(2026, 12, 28)) == ()  # a Monday, closed that date
    assert hours.ranges_on(date(2026, 12, 24)) == ((time(9), time(12)),)  # a Thursday
    assert hours.ranges_on(date(2026, 12, 27)) == ()  # Sundays are closed


async def test_a_provider_that_cannot_tell_gives_unknown_hours(fake) -> None:
    owner = uuid.uuid4()
    fake.answers[owner] = (200, NOT_KNOWN)
    assert await hours_of(fake.url, owner) == OpeningHours(known=False)


async def test_no_active_connector_is_no_active_connector(fake) -> None:
    with pytest.raises(NoActiveConnector, match="no active connector"):
        await hours_of(fake.url, uuid.uuid4())


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (502, {"detail": "provider unreachable"}),
        (200, {"known": True, "weekly": [{"weekday": 9, "start": "09:00", "end": "10:00"}]}),
        (200, {"known": True, "weekly": [{"weekday": 1, "start": "9 am", "end": "10:00"}]}),
        (200, {"known": True, "overrides": [{"date": "someday", "ranges": []}]}),
        (200, {"provider": "builtin"}),
    ],
)
async def test_failures_and_unreadable_answers_are_calendar_unavailable(fake, status, body) -> None:
    owner = uuid.uuid4()
    fake.answers[owner] = (status, body)
    with pytest.raises(CalendarUnavailable):
        await hours_of(fake.url, owner)


async def test_a_token_connectors_refuses_is_not_taken_for_hours(fake) -> None:
    owner = uuid.uuid4()
    fake.answers[owner] = (200, BUILTIN)
    with pytest.raises(CalendarUnavailable, match="401"):
        await hours_of(fake.url, owner, key="another-services-key-of-at-least-32-bytes")


async def test_connectors_down_is_calendar_unavailable() -> None:
    with pytest.raises(CalendarUnavailable, match="unreachable"):
        await hours_of("http://127.0.0.1:9", uuid.uuid4())
