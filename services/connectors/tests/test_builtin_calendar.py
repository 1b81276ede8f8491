"""The built-in calendar on the real database and broker, through the owner/agent API."""

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError

from shared.events import (
    WorkspaceDeletedV1,
    WorkspaceServiceDeletedV1,
    WorkspaceServiceUpdatedV1,
    WorkspaceUpdatedV1,
)
from shared.testing import wait_until

from .calendar_support import (
    ACTIVE,
    book,
    builtin_config,
    calendar,
    local,
    publish_service,
    starts,
)
from .support import BASE


def _as_dt(values: list[str]) -> list[datetime]:
    return [datetime.fromisoformat(v) for v in values]


# -- configuration through the API ----------------------------------------------------------


@pytest.mark.parametrize(
    ("weekly_hours", "where"),
    [
        ({"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}, "mon"),
        ({"tue": [["12:00", "09:00"]]}, "tue"),
        ({"someday": []}, "someday"),
        ({"wed": [["9:00", "12:00"]]}, "wed"),
    ],
)
async def test_bad_hours_are_422_naming_the_field(client, owner, weekly_hours, where) -> None:
    me = await owner()
    response = await client.post(
        f"{BASE}/",
        json={"name": "Calendar", "config": builtin_config(weekly_hours=weekly_hours)},
        headers=me.headers,
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert "weekly_hours" in error["loc"] and where in error["loc"]


async def test_a_patch_with_bad_hours_is_422_naming_the_field_and_changes_nothing(
    client, owner, publish, query
) -> None:
    cal = await calendar(client, owner, publish, query)
    response = await client.patch(
        f"{BASE}/{cal.connector['id']}",
        json={"config": {"weekly_hours": {"fri": [["10:00", "09:00"]]}}},
        headers=cal.headers,
    )
    assert response.status_code == 422
    assert "config.weekly_hours.fri" in response.json()["detail"]
    stored = (await client.get(f"{BASE}/{cal.connector['id']}", headers=cal.headers)).json()
    assert stored["config"]["weekly_hours"]["fri"] == [["09:00", "17:00"]]


async def test_a_connector_is_created_from_the_reads_shape_as_well(client, owner) -> None:
    me = await owner()
    nested = await client.post(
        f"{BASE}/", json={"name": "A", "config": {"provider": "builtin"}}, headers=me.headers
    )
    assert nested.status_code == 201, nested.text
    read = nested.json()
    # What a read returns, sent back as a create: provider at the top, config without it.
    echoed = {"name": "B", "provider": read["provider"], "config": read["config"]}
    echoed["config"] = {k: v for k, v in read["config"].items() if k != "provider"}
    flat = await client.post(f"{BASE}/", json=echoed, headers=me.headers)
    assert flat.status_code == 201, flat.text
    assert flat.json()["provider"] == "builtin"
    assert flat.json()["config"] == read["config"]
    both = await client.post(
        f"{BASE}/",
        json={"name": "C", "provider": "builtin", "config": read["config"]},
        headers=me.headers,
    )
    assert both.status_code == 201


async def test_a_top_level_provider_contradicting_the_config_is_422(client, owner) -> None:
    me = await owner()
    response = await client.post(
        f"{BASE}/",
        json={"name": "A", "provider": "square", "config": {"provider": "builtin"}},
        headers=me.headers,
    )
    assert response.status_code == 422
    assert "differ" in str(response.json()["detail"])


async def test_check_of_a_builtin_calendar_is_ok_without_any_network(
    client, owner, publish, query
) -> None:
    cal = await calendar(client, owner, publish, query)
    response = await client.post(f"{BASE}/{cal.connector['id']}/check", headers=cal.headers)
    assert response.status_code == 200 and response.json()["status"] == "ok"


# -- services -------------------------------------------------------------------------------


async def test_event_types_are_the_workspaces_active_services(
    client, owner, publish, query
) -> None:
    cal = await calendar(
        client, owner, publish, query, services=(("Massage", 60, True), ("Old", 30, False))
    )
    response = await client.get(f"{ACTIVE}/event-types", headers=cal.headers)
    assert response.status_code == 200
    assert response.json() == {
        "data": [
            {
                "id": str(cal.services["Massage"]),
                "name": "Massage",
                "duration_minutes": 60,
                "description": None,
            }
        ],
        "count": 1,
    }
    day = cal.day()
    inactive = await client.get(
        f"{ACTIVE}/availability",
        params={"event_type": str(cal.services["Old"]), "start": day, "end": day},
        headers=cal.headers,
    )
    assert inactive.status_code == 422 and "active services" in inactive.json()["detail"]
    assert (await book(client, cal, cal.at(day, "10:00"), service="Old")).status_code == 422


async def test_a_service_update_changes_its_length_and_deactivation_or_deletion_hides_it(
    client, owner, publish, query
) -> None:
    cal = await calendar(client, owner, publish, query)
    sid = cal.services["Massage"]
    snapshot = {"service_id": sid, "workspace_id": cal.me.workspace_id, "name": "Massage"}
    await publish(
        WorkspaceServiceUpdatedV1(**snapshot, duration_minutes=90, is_active=True, position=0)
    )

    async def lengthened() -> bool:
        types = (await client.get(f"{ACTIVE}/event-types", headers=cal.headers)).json()
        return [t["duration_minutes"] for t in types["data"]] == [90]

    await wait_until(lengthened)
    day = cal.day()
    assert local((await starts(client, cal, day))[-1], cal.zone) == "15:30"

    await publish(
        WorkspaceServiceUpdatedV1(**snapshot, duration_minutes=90, is_active=False, position=0)
    )

    async def hidden() -> bool:
        types = (await client.get(f"{ACTIVE}/event-types", headers=cal.headers)).json()
        return types["count"] == 0

    await wait_until(hidden)
    await publish(
        WorkspaceServiceUpdatedV1(**snapshot, duration_minutes=90, is_active=True, position=0)
    )
    await wait_until(lengthened)
    await publish(WorkspaceServiceDeletedV1(service_id=sid, workspace_id=cal.me.workspace_id))
    await wait_until(hidden)


async def test_a_deleted_workspace_loses_its_services_and_a_late_event_does_not_bring_one_back(
    client, owner, publish, query
) -> None:
    cal = await calendar(client, owner, publish, query)
    me = cal.me
    await publish(
        WorkspaceDeletedV1(
            workspace_id=me.workspace_id,
            owner_id=me.user_id,
            handle="gone",
            name="Studio",
            timezone=me.timezone,
        )
    )

    async def services_gone() -> bool:
        rows = await query(
            "SELECT count(*) FROM connectors.workspace_services WHERE workspace_id = :w",
            w=me.workspace_id,
        )
        return rows[0][0] == 0

    await wait_until(services_gone)
    late = await publish(
        WorkspaceServiceUpdatedV1(
            service_id=cal.services["Massage"],
            workspace_id=me.workspace_id,
            name="Massage",
            duration_minutes=60,
            is_active=True,
            position=0,
        )
    )

    async def consumed() -> bool:
        return bool(
            await query("SELECT 1 FROM connectors.inbox WHERE event_id = :e", e=late.event_id)
        )

    await wait_until(consumed)
    assert await services_gone()


# -- availability ---------------------------------------------------------------------------


async def test_availability_offers_the_grid_inside_the_hours_in_the_workspace_zone(
    client, owner, publish, query
) -> None:
    cal = await calendar(
        client,
        owner,
        publish,
        query,
        weekly_hours={},
        date_overrides=[],
    )
    day = cal.day()
    # No weekly hours at all: nothing.
    assert await starts(client, cal, day) == []
    response = await client.patch(
        f"{BASE}/{cal.connector['id']}",
        json={
            "config": {
                "weekly_hours": {day.strftime("%a").lower(): [["09:00", "12:00"]]},
                "date_overrides": [{"date": (day + timedelta(days=7)).isoformat(), "hours": []}],
            }
        },
        headers=cal.headers,
    )
    assert response.status_code == 200, response.text
    found = await starts(client, cal, day)
    assert [local(s, cal.zone) for s in found] == [
        "09:00",
        "09:15",
        "09:30",
        "09:45",
        "10:00",
        "10:15",
        "10:30",
        "10:45",
        "11:00",
    ]
    assert all(datetime.fromisoformat(s).utcoffset() == _offset(cal.zone, day) for s in found)
    assert await starts(client, cal, day + timedelta(days=7)) == []  # overridden: closed


def _offset(zone: ZoneInfo, day: date) -> timedelta | None:
    return datetime(day.year, day.month, day.day, 12, tzinfo=zone).utcoffset()


async def test_availability_respects_notice_and_horizon(client, owner, publish, query) -> None:
    cal = await calendar(
        client, owner, publish, query, min_notice_minutes=60 * 24 * 2, max_days_ahead=4
    )
    assert await starts(client, cal, cal.day(1)) == []  # inside the two days' notice
    assert await starts(client, cal, cal.day(3))
    assert await starts(client, cal, cal.day(5)) == []  # beyond four days ahead
    # And a booking cannot get round either rule.
    too_soon = await book(client, cal, cal.at(cal.day(1), "10:00"))
    assert too_soon.status_code == 422 and "notice" in too_soon.json()["detail"]
    too_far = await book(client, cal, cal.at(cal.day(6), "10:00"))
    assert too_far.status_code == 422 and "days ahead" in too_far.json()["detail"]


def _next_change(zone: ZoneInfo, after: date) -> date:
    day = after
    while True:
        today = datetime.combine(day, datetime.min.time(), zone).utcoffset()
        tomorrow = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).utcoffset()
        if today != tomorrow:
            return day
        day += timedelta(days=1)


@pytest.mark.parametrize("timezone", ["Europe/Madrid", "America/New_York"])
async def test_the_next_dst_change_day_keeps_its_local_hours_with_no_slot_twice(
    client, owner, publish, query, timezone
) -> None:
    zone = ZoneInfo(timezone)
    change = _next_change(zone, datetime.now(zone).date() + timedelta(days=2))
    cal = await calendar(
        client,
        owner,
        publish,
        query,
        timezone=timezone,
        max_days_ahead=365,
        weekly_hours={change.strftime("%a").lower(): [["00:00", "04:00"], ["09:00", "17:00"]]},
        slot_step_minutes=30,
        services=(("Massage", 30, True),),
    )
    found = _as_dt(await starts(client, cal, change))
    assert len(found) == len(set(found))
    office = [s for s in found if "09:00" <= s.astimezone(zone).strftime("%H:%M") < "17:00"]
    assert office[0].astimezone(zone).strftime("%H:%M") == "09:00" and len(office) == 16
    night = [s for s in found if s.astimezone(zone).hour < 9]
    spring = _offset(zone, change + timedelta(days=1)) > _offset(zone, change - timedelta(days=1))
    # Four wall-clock hours around the change hold three real hours in spring, five in autumn.
    assert len(night) == (3 if spring else 5) * 2


async def test_hours_follow_the_workspace_into_its_new_timezone(
    client, owner, publish, query
) -> None:
    cal = await calendar(client, owner, publish, query, timezone="Europe/Madrid")
    day = cal.day()
    before = await starts(client, cal, day)
    me = cal.me
    await publish(
        WorkspaceUpdatedV1(
            workspace_id=me.workspace_id,
            owner_id=me.user_id,
            handle=f"ws-{me.workspace_id.hex[:10]}",
            name="Studio",
            tone="calm",
            timezone="Asia/Tokyo",
        )
    )

    async def moved() -> bool:
        rows = await query(
            "SELECT timezone FROM connectors.workspaces WHERE workspace_id = :w",
            w=me.workspace_id,
        )
        return rows[0][0] == "Asia/Tokyo"

    await wait_until(moved)
    response = await client.get(
        f"{ACTIVE}/availability",
        params={"event_type": str(cal.services["Massage"]), "start": day, "end": day},
        headers=cal.headers,
    )
    assert response.json()["timezone"] == "Asia/Tokyo"
    after = [s["start"] for s in response.json()["data"]]
    tokyo = ZoneInfo("Asia/Tokyo")
    assert local(after[0], tokyo) == "09:00" and local(after[-1], tokyo) == "16:00"
    assert _as_dt(after)[0] != _as_dt(before)[0]


# -- booking --------------------------------------------------------------------------------


async def test_a_booking_takes_its_slot_and_is_announced_through_the_outbox(
    client, owner, publish, query, events
) -> None:
    cal = await calendar(client, owner, publish, query)
    day = cal.day()
    conversation = uuid.uuid4()
    response = await book(
        client,
        cal,
        cal.at(day, "10:00"),
        email="vera@example.com",
        phone="+34600111222",
        conversation_id=str(conversation),
    )
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["provider"] == "builtin" and booking["status"] == "confirmed"
    assert datetime.fromisoformat(booking["end"]) - datetime.fromisoformat(
        booking["start"]
    ) == timedelta(minutes=60)
    (event,) = await events.wait_for("booking.created", booking_id=booking["id"])
    assert event["payload"]["provider"] == "builtin"
    assert event["payload"]["event_type"] == str(cal.services["Massage"])
    assert event["payload"]["visitor_email"] == "vera@example.com"
    assert event["payload"]["conversation_id"] == str(conversation)

    left = {local(s, cal.zone) for s in await starts(client, cal, day)}
    assert {"09:00", "11:00"} <= left
    assert not {"09:15", "09:45", "10:00", "10:45"} & left
    again = await book(client, cal, cal.at(day, "10:00"))
    assert again.status_code == 409 and "booked" in again.json()["detail"]
    overlapping = await book(client, cal, cal.at(day, "10:30"))
    assert overlapping.status_code == 409


@pytest.mark.parametrize(
    ("hhmm", "words"),
    [("10:07", "every 15 minutes"), ("16:30", "outside the opening hours"), ("20:00", "outside")],
)
async def test_a_start_the_calendar_does_not_offer_is_422_with_the_reason(
    client, owner, publish, query, hhmm, words
) -> None:
    cal = await calendar(client, owner, publish, query)
    response = await book(client, cal, cal.at(cal.day(), hhmm))
    assert response.status_code == 422
    assert words in response.json()["detail"]
    rows = await query(
        "SELECT count(*) FROM connectors.bookings WHERE workspace_id = :w", w=cal.me.workspace_id
    )
    assert rows[0][0] == 0


async def test_buffers_keep_time_free_around_a_booking(client, owner, publish, query) -> None:
    cal = await calendar(
        client, owner, publish, query, buffer_before_minutes=15, buffer_after_minutes=30
    )
    day = cal.day()
    assert (await book(client, cal, cal.at(day, "12:00"))).status_code == 201
    left = {local(s, cal.zone) for s in await starts(client, cal, day)}
    # Held 11:45-13:30. A 60-minute candidate holds [start-15, start+90).
    assert "10:15" in left and "10:30" not in left
    assert "13:30" not in left and "13:45" in left
    assert (await book(client, cal, cal.at(day, "13:30"))).status_code == 409
    assert (await book(client, cal, cal.at(day, "13:45"))).status_code == 201


async def test_a_repeated_idempotency_key_answers_200_with_the_same_booking(
    client, owner, publish, query
) -> None:
    cal = await calendar(client, owner, publish, query)
    start = cal.at(cal.day(), "09:00")
    first = await book(client, cal, start, idempotency_key="agent-turn-0001")
    second = await book(client, cal, start, idempotency_key="agent-turn-0001")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    rows = await query(
        "SELECT count(*) FROM connectors.bookings WHERE workspace_id = :w", w=cal.me.workspace_id
    )
    assert rows[0][0] == 1


async def test_concurrent_requests_with_one_idempotency_key_all_get_the_one_booking(
    client, owner, publish, query
) -> None:
    cal = await calendar(client, owner, publish, query)
    start = cal.at(cal.day(), "15:00")
    answers = await asyncio.gather(
        *(book(client, cal, start, idempotency_key="agent-turn-race-1") for _ in range(10))
    )
    assert sorted(a.status_code for a in answers) == [200] * 9 + [201]
    assert len({a.json()["id"] for a in answers}) == 1


async def test_cancel_frees_the_time_and_the_slot_can_be_booked_again(
    client, owner, publish, query, events
) -> None:
    cal = await calendar(client, owner, publish, query)
    day = cal.day()
    start = cal.at(day, "14:00")
    booking = (await book(client, cal, start)).json()
    cancel = await client.delete(
        f"{ACTIVE}/bookings/{booking['id']}", params={"reason": "ill"}, headers=cal.headers
    )
    assert cancel.status_code == 204
    (event,) = await events.wait_for("booking.cancelled", booking_id=booking["id"])
    assert event["payload"]["reason"] == "ill" and event["payload"]["provider"] == "builtin"
    assert "14:00" in {local(s, cal.zone) for s in await starts(client, cal, day)}
    again = await book(client, cal, start, name="Otto")
    assert again.status_code == 201 and again.json()["id"] != booking["id"]
    # Cancelling twice changes nothing and announces nothing more.
    twice = await client.delete(f"{ACTIVE}/bookings/{booking['id']}", headers=cal.headers)
    assert twice.status_code == 204
    assert len(events.of("booking.cancelled", booking_id=booking["id"])) == 1
    unknown = await client.delete(f"{ACTIVE}/bookings/{uuid.uuid4()}", headers=cal.headers)
    assert unknown.status_code == 404


async def test_another_owners_booking_cannot_be_cancelled(client, owner, publish, query) -> None:
    mine = await calendar(client, owner, publish, query)
    theirs = await calendar(client, owner, publish, query)
    booking = (await book(client, theirs, theirs.at(theirs.day(), "09:00"))).json()
    response = await client.delete(f"{ACTIVE}/bookings/{booking['id']}", headers=mine.headers)
    assert response.status_code == 404
    rows = await query(
        "SELECT status FROM connectors.bookings WHERE external_id = :e", e=booking["id"]
    )
    assert rows[0][0] == "confirmed"


async def test_fifty_concurrent_attempts_at_one_slot_make_one_booking_and_49_conflicts(
    client, owner, publish, query
) -> None:
    cal = await calendar(client, owner, publish, query)
    start = cal.at(cal.day(), "11:00")
    answers = await asyncio.gather(
        *(book(client, cal, start, name=f"Visitor {i}") for i in range(50))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 49, statuses
    assert all("booked" in a.json()["detail"] for a in answers if a.status_code == 409)
    rows = await query(
        "SELECT count(*) FROM connectors.bookings WHERE workspace_id = :w AND status = 'confirmed'",
        w=cal.me.workspace_id,
    )
    assert rows[0][0] == 1


@pytest.mark.parametrize("deadlocks", [1, 3])
async def test_a_booking_insert_postgres_aborts_as_a_deadlock_is_tried_again(
    client, owner, publish, query, monkeypatch, deadlocks
) -> None:
    """Racers for one time each wait on the other's row for the exclusion constraint, and
    Postgres aborts one with deadlock_detected (seen in a full run: a 500). Here the insert's
    flush is made to fail so: once, the booking is made on the next try; on every try, the
    visitor gets the 409 of a taken time, never a 500."""
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.ext.asyncio import AsyncSession

    cal = await calendar(client, owner, publish, query)
    flush, failed = AsyncSession.flush, []

    async def deadlocking_flush(self, *args, **kwargs):
        if len(failed) < deadlocks and any(type(o).__name__ == "Booking" for o in self.new):
            failed.append(True)
            orig = AsyncAdapt_asyncpg_dbapi.Error("deadlock detected")
            orig.sqlstate = orig.pgcode = "40P01"
            raise DBAPIError("INSERT INTO connectors.bookings", {}, orig)
        return await flush(self, *args, **kwargs)

    monkeypatch.setattr(AsyncSession, "flush", deadlocking_flush)
    answer = await book(client, cal, cal.at(cal.day(), "10:00"))
    assert len(failed) == deadlocks
    if deadlocks == 1:
        assert answer.status_code == 201, answer.text
    else:
        assert answer.status_code == 409 and "booked" in answer.json()["detail"], answer.text
    rows = await query(
        "SELECT count(*) FROM connectors.bookings WHERE workspace_id = :w AND status = 'confirmed'",
        w=cal.me.workspace_id,
    )
    assert rows[0][0] == (1 if deadlocks == 1 else 0)


async def test_the_database_itself_refuses_two_confirmed_builtin_bookings_holding_one_time(
    client, owner, publish, query
) -> None:
    cal = await calendar(client, owner, publish, query)
    booking = (await book(client, cal, cal.at(cal.day(), "09:00"))).json()
    insert = (
        "INSERT INTO connectors.bookings (id, connector_id, workspace_id, provider, external_id, "
        "status, source, start_at, end_at, held_from, held_until) "
        "SELECT CAST(:id AS uuid), connector_id, workspace_id, 'builtin', :ext, :status, "
        "'platform', "
        "start_at + interval '30 minutes', end_at + interval '30 minutes', "
        "held_from + interval '30 minutes', held_until + interval '30 minutes' "
        "FROM connectors.bookings WHERE external_id = :e"
    )
    # A cancelled row holds nothing, so it may sit on the same time.
    first, second = uuid.uuid4(), uuid.uuid4()
    await query(insert, id=str(first), ext=str(first), status="cancelled", e=booking["id"])
    with pytest.raises(IntegrityError, match="ex_bookings_builtin_no_overlap"):
        await query(insert, id=str(second), ext=str(second), status="confirmed", e=booking["id"])


# -- listing --------------------------------------------------------------------------------


async def test_the_owner_lists_and_filters_the_workspaces_bookings(
    client, owner, publish, query
) -> None:
    cal = await calendar(
        client, owner, publish, query, services=(("Massage", 60, True), ("Facial", 30, True))
    )
    day, later = cal.day(2), cal.day(3)
    made = [
        (await book(client, cal, cal.at(day, "09:00"))).json(),
        (await book(client, cal, cal.at(day, "11:00"), service="Facial")).json(),
        (await book(client, cal, cal.at(later, "10:00"), email="v@example.com")).json(),
    ]
    await client.delete(f"{ACTIVE}/bookings/{made[0]['id']}", headers=cal.headers)
    # A booking a provider reported through its webhook is listed as well.
    await query(
        "INSERT INTO connectors.bookings (id, connector_id, workspace_id, provider, external_id, "
        "status, source, event_type, start_at) VALUES (:id, :c, :w, 'calendly', 'cal-1', "
        "'confirmed', 'provider', 'ET30', :start)",
        id=uuid.uuid4(),
        c=uuid.UUID(cal.connector["id"]),
        w=cal.me.workspace_id,
        start=datetime.now(UTC) - timedelta(days=1),
    )

    async def listed(**params) -> dict:
        response = await client.get(f"{ACTIVE}/bookings", params=params, headers=cal.headers)
        assert response.status_code == 200, response.text
        return response.json()

    everything = await listed()
    assert everything["count"] == 4
    assert next(b["provider"] for b in everything["data"]) == "calendly"  # by start
    upcoming = await listed(upcoming="true")
    assert [b["id"] for b in upcoming["data"]] == [m["id"] for m in made]
    assert upcoming["data"][0]["status"] == "cancelled"
    assert upcoming["data"][2]["visitor_email"] == "v@example.com"
    on_day = await listed(day=day.isoformat(), status="confirmed")
    assert [b["id"] for b in on_day["data"]] == [made[1]["id"]]
    facial = await listed(event_type=str(cal.services["Facial"]))
    assert [b["id"] for b in facial["data"]] == [made[1]["id"]]
    paged = await listed(upcoming="true", skip=1, limit=1)
    assert paged["count"] == 3 and [b["id"] for b in paged["data"]] == [made[1]["id"]]

    stranger = await owner()
    theirs = await client.get(f"{ACTIVE}/bookings", headers=stranger.headers)
    assert theirs.json() == {"data": [], "count": 0}


async def test_listing_rejects_a_malformed_filter_with_422(client, owner) -> None:
    me = await owner()
    response = await client.get(
        f"{ACTIVE}/bookings", params={"day": "tomorrow"}, headers=me.headers
    )
    assert response.status_code == 422


async def test_a_service_published_before_the_calendar_exists_is_offered_once_it_does(
    client, owner, publish, query
) -> None:
    me = await owner()
    sid = await publish_service(publish, query, me.workspace_id, "Early", 30)
    from .support import create_active

    await create_active(client, me.headers, builtin_config())
    types = (await client.get(f"{ACTIVE}/event-types", headers=me.headers)).json()
    assert [t["id"] for t in types["data"]] == [str(sid)]


async def test_dates_at_the_edges_of_the_calendar_are_answered_not_500(
    client, owner, publish, query
) -> None:
    cal = await calendar(client, owner, publish, query)
    event_type = str(cal.services["Massage"])
    for start, end, status in (
        ("1970-01-01", "1970-01-31", 200),
        ("2999-12-01", "2999-12-31", 200),
        ("0001-01-01", "0001-01-02", 422),
        ("9999-12-30", "9999-12-31", 422),
    ):
        response = await client.get(
            f"{ACTIVE}/availability",
            params={"event_type": event_type, "start": start, "end": end},
            headers=cal.headers,
        )
        assert response.status_code == status, (start, response.text)
        if status == 200:
            assert response.json()["data"] == []
    for start in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"):
        assert (await book(client, cal, start)).status_code == 422
    listed = await client.get(
        f"{ACTIVE}/bookings", params={"day": "9999-12-31"}, headers=cal.headers
    )
    assert listed.status_code == 422


@pytest.mark.parametrize("name", ["Ve\x00ra", "Ve\x1bra", "Ve\ud800ra"])
async def test_a_visitor_name_postgres_cannot_store_is_422_and_stores_nothing(
    client, owner, publish, query, name
) -> None:
    cal = await calendar(client, owner, publish, query)
    body = json.dumps(
        {
            "event_type": str(cal.services["Massage"]),
            "start": cal.at(cal.day(), "10:00"),
            "name": name,
        }
    )
    response = await client.post(
        f"{ACTIVE}/bookings",
        content=body,
        headers=cal.headers | {"content-type": "application/json"},
    )
    assert response.status_code == 422
    rows = await query(
        "SELECT count(*) FROM connectors.bookings WHERE workspace_id = :w", w=cal.me.workspace_id
    )
    assert rows[0][0] == 0
