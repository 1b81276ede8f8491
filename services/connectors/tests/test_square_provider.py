"""The Square client, over HTTP, against the loopback Square fake: shapes, idempotency keys,
retries honouring Retry-After and the mapping of provider failures to answers."""

import time
import uuid
from datetime import UTC, date, datetime, timedelta

from .fakes import SQUARE_TOKEN
from .support import BASE, create, create_active, square_config

ACTIVE = f"{BASE}/active"


def _window() -> dict[str, str]:
    start = date.today() + timedelta(days=1)
    return {"event_type": "VAR30", "start": start.isoformat(), "end": start.isoformat()}


async def test_check_reads_the_location_and_records_the_merchant(
    client, owner, square, query
) -> None:
    me = await owner()
    connector = await create(client, me.headers, square_config())
    response = await client.post(f"{BASE}/{connector['id']}/check", headers=me.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"
    (call,) = square.state.calls("GET", "/v2/locations/LOC1")
    assert call.headers["authorization"] == f"Bearer {SQUARE_TOKEN}"
    assert call.headers["square-version"]
    rows = await query(
        "SELECT account_ref, location_ref FROM connectors.connectors WHERE id = :id",
        id=connector["id"],
    )
    assert rows[0] == ("MERCHANT1", "LOC1")


async def test_check_with_a_bad_token_is_424_with_squares_reason(client, owner) -> None:
    me = await owner()
    connector = await create(client, me.headers, square_config(access_token="EAAA-revoked-0000"))
    response = await client.post(f"{BASE}/{connector['id']}/check", headers=me.headers)
    assert response.status_code == 424
    assert "UNAUTHORIZED: This request could not be authorized." in response.json()["detail"]
    stored = (await client.get(f"{BASE}/{connector['id']}", headers=me.headers)).json()
    assert stored["status"] == "error" and "UNAUTHORIZED" in stored["last_error"]


async def test_check_with_an_unknown_location_is_a_422_and_status_error(client, owner) -> None:
    me = await owner()
    connector = await create(client, me.headers, square_config(location_id="NOPE"))
    response = await client.post(f"{BASE}/{connector['id']}/check", headers=me.headers)
    assert response.status_code == 422
    assert "Location not found" in response.json()["detail"]
    stored = (await client.get(f"{BASE}/{connector['id']}", headers=me.headers)).json()
    assert stored["status"] == "error"


async def test_event_types_are_the_appointment_services_only(client, owner, square) -> None:
    me = await owner()
    await create_active(client, me.headers, square_config())
    body = (await client.get(f"{ACTIVE}/event-types", headers=me.headers)).json()
    assert body == {
        "data": [{"id": "VAR30", "name": "Haircut", "duration_minutes": 30, "description": None}],
        "count": 1,
    }
    (call,) = square.state.calls("POST", "/v2/catalog/search")
    assert call.body["object_types"] == ["ITEM"]


async def test_availability_is_answered_in_the_workspace_timezone(client, owner, square) -> None:
    me = await owner("Asia/Tokyo")
    await create_active(client, me.headers, square_config())
    # Two days ahead: Tokyo's midnight of tomorrow is already past after 15:00 UTC, and a
    # range starting in the past is (rightly) asked from now.
    start = date.today() + timedelta(days=2)
    end = start + timedelta(days=2)
    response = await client.get(
        f"{ACTIVE}/availability",
        params={"event_type": "VAR30", "start": start.isoformat(), "end": end.isoformat()},
        headers=me.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    (call,) = square.state.calls("POST", "/v2/bookings/availability/search")
    query = call.body["query"]["filter"]
    assert query["location_id"] == "LOC1"
    assert query["segment_filters"] == [{"service_variation_id": "VAR30"}]
    # Asked from local midnight: 15:00 UTC the day before.
    assert query["start_at_range"]["start_at"] == (
        f"{(start - timedelta(days=1)).isoformat()}T15:00:00Z"
    )
    # The fake offers 17:00 UTC daily: 02:00 the next morning in Tokyo.
    starts = [datetime.fromisoformat(s["start"]) for s in body["data"]]
    assert [s.date() for s in starts] == [start + timedelta(days=i) for i in range(3)]
    assert all(s.strftime("%H:%M%z") == "02:00+0900" for s in starts)
    assert all(s["staff_id"] == "TM1" for s in body["data"])


async def test_booking_sends_an_idempotency_key_and_a_repeat_books_nothing_new(
    client, owner, square, events
) -> None:
    me = await owner("America/Los_Angeles")
    connector = await create_active(client, me.headers, square_config())
    key = f"conv-{uuid.uuid4().hex}"
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    request = {
        "event_type": "VAR30",
        "start": start.isoformat(),
        "name": "Vera Visitor",
        "email": f"vera-{key}@example.com",
        "staff_id": "TM1",
        "idempotency_key": key,
    }
    response = await client.post(f"{ACTIVE}/bookings", json=request, headers=me.headers)
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["id"].startswith("BOOK") and booking["idempotency_key"] == key
    assert datetime.fromisoformat(booking["end"]) - datetime.fromisoformat(booking["start"]) == (
        timedelta(minutes=30)
    )
    (sent,) = square.state.calls("POST", "/v2/bookings")
    assert sent.body["idempotency_key"] == key
    segment = sent.body["booking"]["appointment_segments"][0]
    assert segment == {
        "duration_minutes": 30,
        "service_variation_id": "VAR30",
        "service_variation_version": 1700000000123,
        "team_member_id": "TM1",
    }
    assert sent.body["booking"]["location_id"] == "LOC1"
    assert sent.body["booking"]["start_at"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert sent.body["booking"]["customer_id"].startswith("CUST")
    (created,) = await events.wait_for("booking.created", booking_id=booking["id"])
    assert created["payload"]["source"] == "platform"
    assert created["payload"]["connector_id"] == connector["id"]

    again = await client.post(f"{ACTIVE}/bookings", json=request, headers=me.headers)
    assert again.status_code == 200 and again.json()["id"] == booking["id"]
    assert len(square.state.calls("POST", "/v2/bookings")) == 1

    cancel = await client.delete(f"{ACTIVE}/bookings/{booking['id']}", headers=me.headers)
    assert cancel.status_code == 204
    (sent,) = square.state.calls("POST", f"/v2/bookings/{booking['id']}/cancel")
    assert sent.body["idempotency_key"]
    assert square.state.data["bookings"][booking["id"]]["status"] == "CANCELLED_BY_SELLER"
    await events.wait_for("booking.cancelled", booking_id=booking["id"], source="platform")


async def test_a_booking_post_is_retried_after_a_5xx_because_it_carries_its_key(
    client, owner, square
) -> None:
    me = await owner()
    await create_active(client, me.headers, square_config())
    square.state.answer_next(
        503,
        {"errors": [{"category": "API_ERROR", "code": "SERVICE_UNAVAILABLE", "detail": "busy"}]},
        path="/v2/bookings",
    )
    response = await client.post(
        f"{ACTIVE}/bookings",
        json={
            "event_type": "VAR30",
            "start": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            "name": "Vera",
            "phone": "+14155550100",
            "staff_id": "TM1",
        },
        headers=me.headers,
    )
    assert response.status_code == 201, response.text
    calls = square.state.calls("POST", "/v2/bookings")
    assert len(calls) == 2 and calls[0].body["idempotency_key"] == calls[1].body["idempotency_key"]


async def test_a_429_is_retried_after_the_retry_after_delay(client, owner, square) -> None:
    me = await owner()
    await create_active(client, me.headers, square_config())
    square.state.answer_next(
        429,
        {"errors": [{"category": "RATE_LIMIT_ERROR", "code": "RATE_LIMITED", "detail": "slow"}]},
        headers={"Retry-After": "1"},
        path="/v2/bookings/availability/search",
    )
    started = time.monotonic()
    response = await client.get(f"{ACTIVE}/availability", params=_window(), headers=me.headers)
    assert response.status_code == 200, response.text
    calls = square.state.calls("POST", "/v2/bookings/availability/search")
    assert len(calls) == 2
    assert calls[1].at - calls[0].at >= 1.0
    assert time.monotonic() - started >= 1.0


async def test_a_retry_after_beyond_the_limit_is_a_503_at_once(client, owner, square) -> None:
    me = await owner()
    await create_active(client, me.headers, square_config())
    square.state.answer_next(
        429,
        {"errors": [{"category": "RATE_LIMIT_ERROR", "code": "RATE_LIMITED", "detail": "quota"}]},
        headers={"Retry-After": "120"},
        path="/v2/catalog/search",
    )
    response = await client.get(f"{ACTIVE}/event-types", headers=me.headers)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "120"
    assert "RATE_LIMITED" in response.json()["detail"]
    assert len(square.state.calls("POST", "/v2/catalog/search")) == 1


async def test_transient_5xx_answers_are_retried_until_one_succeeds(client, owner, square) -> None:
    me = await owner()
    await create_active(client, me.headers, square_config())
    square.state.answer_next(
        500,
        {"errors": [{"category": "API_ERROR", "code": "INTERNAL_SERVER_ERROR", "detail": "x"}]},
        path="/v2/catalog/search",
        times=2,
    )
    response = await client.get(f"{ACTIVE}/event-types", headers=me.headers)
    assert response.status_code == 200, response.text
    assert len(square.state.calls("POST", "/v2/catalog/search")) == 3


async def test_a_provider_that_keeps_failing_is_a_502_after_bounded_retries(
    client, owner, square
) -> None:
    me = await owner()
    await create_active(client, me.headers, square_config())
    square.state.answer_next(
        500,
        {"errors": [{"category": "API_ERROR", "code": "INTERNAL_SERVER_ERROR", "detail": "down"}]},
        path="/v2/catalog/search",
        times=10,
    )
    response = await client.get(f"{ACTIVE}/event-types", headers=me.headers)
    assert response.status_code == 502
    assert "Square is unavailable" in response.json()["detail"]
    assert len(square.state.calls("POST", "/v2/catalog/search")) == 3  # 1 + 2 retries


async def test_a_provider_that_does_not_answer_in_time_is_a_504(client, owner, square) -> None:
    me = await owner()
    await create_active(client, me.headers, square_config())
    square.state.answer_next(200, {}, path="/v2/catalog/search", times=3, delay=1.5)
    response = await client.get(f"{ACTIVE}/event-types", headers=me.headers)
    assert response.status_code == 504
    assert "did not answer in time" in response.json()["detail"]


async def test_a_failed_check_from_an_outage_is_a_502_and_marks_status_error(
    client, owner, square
) -> None:
    me = await owner()
    connector = await create(client, me.headers, square_config())
    square.state.answer_next(
        503, {"errors": [{"code": "SERVICE_UNAVAILABLE"}]}, path="/v2/locations", times=3
    )
    response = await client.post(f"{BASE}/{connector['id']}/check", headers=me.headers)
    assert response.status_code == 502
    stored = (await client.get(f"{BASE}/{connector['id']}", headers=me.headers)).json()
    assert stored["status"] == "error" and "503" in stored["last_error"]


async def test_a_booking_without_a_staff_member_is_a_clear_422(client, owner, square) -> None:
    me = await owner()
    await create_active(client, me.headers, square_config())
    response = await client.post(
        f"{ACTIVE}/bookings",
        json={
            "event_type": "VAR30",
            "start": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            "name": "Vera",
            "email": "v@example.com",
        },
        headers=me.headers,
    )
    assert response.status_code == 422
    assert "staff" in response.json()["detail"]
    assert not square.state.calls("POST", "/v2/bookings")


async def test_concurrent_requests_with_one_idempotency_key_make_one_booking(
    client, owner, square, query
) -> None:
    import asyncio

    me = await owner()
    connector = await create_active(client, me.headers, square_config())
    request = {
        "event_type": "VAR30",
        "start": (datetime.now(UTC) + timedelta(days=4)).isoformat(),
        "name": "Vera",
        "phone": "+14155550100",
        "staff_id": "TM1",
        "idempotency_key": f"conv-{uuid.uuid4().hex}",
    }
    responses = await asyncio.gather(
        *(client.post(f"{ACTIVE}/bookings", json=request, headers=me.headers) for _ in range(5))
    )
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    rows = await query(
        "SELECT count(*) FROM connectors.bookings WHERE connector_id = :c", c=connector["id"]
    )
    assert rows[0][0] == 1
