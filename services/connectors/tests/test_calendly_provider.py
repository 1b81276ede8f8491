"""The Calendly client, over HTTP, against the loopback Calendly fake."""

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from .fakes import CALENDLY_TOKEN
from .support import BASE, calendly_config, create, create_active

ACTIVE = f"{BASE}/active"
ET30 = "https://api.calendly.com/event_types/ET30"


async def test_check_with_a_valid_token_sets_status_ok_and_records_the_account(
    client, owner, calendly, query
) -> None:
    me = await owner()
    connector = await create(client, me.headers, calendly_config())
    response = await client.post(f"{BASE}/{connector['id']}/check", headers=me.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok" and body["last_error"] is None and body["checked_at"]
    assert calendly.state.calls("GET", "/users/me")[0].headers["authorization"] == (
        f"Bearer {CALENDLY_TOKEN}"
    )
    rows = await query(
        "SELECT account_ref, organization_ref FROM connectors.connectors WHERE id = :id",
        id=connector["id"],
    )
    assert rows[0] == (
        "https://api.calendly.com/users/USER0001",
        "https://api.calendly.com/organizations/ORG00001",
    )


async def test_check_with_a_bad_token_is_424_with_the_reason_and_marks_status_error(
    client, owner
) -> None:
    me = await owner()
    connector = await create(client, me.headers, calendly_config(access_token="revoked-token-0000"))
    response = await client.post(f"{BASE}/{connector['id']}/check", headers=me.headers)
    assert response.status_code == 424
    assert "The access token is invalid" in response.json()["detail"]
    stored = (await client.get(f"{BASE}/{connector['id']}", headers=me.headers)).json()
    assert stored["status"] == "error"
    assert "Unauthenticated" in stored["last_error"]
    assert stored["checked_at"] is not None
    assert "revoked-token-0000" not in str(stored)


async def test_event_types_come_from_the_provider_and_respect_the_configured_subset(
    client, owner
) -> None:
    me = await owner()
    await create_active(client, me.headers, calendly_config())
    response = await client.get(f"{ACTIVE}/event-types", headers=me.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 2
    assert {(t["id"], t["name"], t["duration_minutes"]) for t in body["data"]} == {
        (ET30, "30 Minute Meeting", 30),
        ("https://api.calendly.com/event_types/ET60", "Consultation", 60),
    }

    other = await owner()
    await create_active(client, other.headers, calendly_config(event_types=["ET30"]))
    body = (await client.get(f"{ACTIVE}/event-types", headers=other.headers)).json()
    assert [t["id"] for t in body["data"]] == [ET30]


async def test_availability_is_answered_in_the_workspace_timezone(client, owner, calendly) -> None:
    me = await owner("Asia/Tokyo")
    await create_active(client, me.headers, calendly_config())
    start = date.today() + timedelta(days=2)
    end = start + timedelta(days=8)  # nine days: Calendly answers seven at a time
    response = await client.get(
        f"{ACTIVE}/availability",
        params={"event_type": ET30, "start": start.isoformat(), "end": end.isoformat()},
        headers=me.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["timezone"] == "Asia/Tokyo"
    calls = calendly.state.calls("GET", "/event_type_available_times")
    assert len(calls) == 2
    for call in calls:
        window = datetime.fromisoformat(call.query["end_time"].replace("Z", "+00:00")) - (
            datetime.fromisoformat(call.query["start_time"].replace("Z", "+00:00"))
        )
        assert window <= timedelta(days=7)
        assert call.query["event_type"] == ET30
    # The fake offers 13:00 and 20:00 UTC daily: 22:00 and 05:00 in Tokyo, every day asked.
    starts = [datetime.fromisoformat(s["start"]) for s in body["data"]]
    assert body["count"] == 18 == len(starts)
    assert all(s.utcoffset() == timedelta(hours=9) for s in starts)
    assert {s.strftime("%H:%M") for s in starts} == {"05:00", "22:00"}
    assert {s.date() for s in starts} == {start + timedelta(days=i) for i in range(9)}
    first = body["data"][0]
    assert datetime.fromisoformat(first["end"]) - datetime.fromisoformat(first["start"]) == (
        timedelta(minutes=30)
    )


async def test_booking_and_cancelling_through_calendly_emit_platform_events(
    client, owner, calendly, events
) -> None:
    me = await owner("Asia/Tokyo")
    connector = await create_active(client, me.headers, calendly_config())
    slot = datetime.combine(date.today() + timedelta(days=3), datetime.min.time(), UTC).replace(
        hour=13
    )
    request = {
        "event_type": ET30,
        "start": slot.astimezone(ZoneInfo("Asia/Tokyo")).isoformat(),
        "name": "Vera Visitor",
        "email": "vera@example.com",
        "phone": "+56912345678",
        "idempotency_key": f"conv-{uuid.uuid4().hex}",
    }
    response = await client.post(f"{ACTIVE}/bookings", json=request, headers=me.headers)
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["provider"] == "calendly" and booking["id"].startswith("EV")
    assert datetime.fromisoformat(booking["start"]) == slot

    (sent,) = calendly.state.calls("POST", "/invitees")
    assert sent.body["event_type"] == ET30
    assert sent.body["start_time"].startswith(slot.strftime("%Y-%m-%dT%H:%M:%S"))
    assert sent.body["start_time"].endswith("Z")
    assert sent.body["invitee"] == {
        "name": "Vera Visitor",
        "email": "vera@example.com",
        "timezone": "Asia/Tokyo",
        "text_reminder_number": "+56912345678",
    }
    (created,) = await events.wait_for("booking.created", booking_id=booking["id"])
    assert created["payload"]["source"] == "platform"
    assert created["payload"]["workspace_id"] == str(me.workspace_id)
    assert created["payload"]["connector_id"] == connector["id"]
    assert created["payload"]["visitor_email"] == "vera@example.com"

    # The same idempotency key gives the same booking back without booking twice.
    again = await client.post(f"{ACTIVE}/bookings", json=request, headers=me.headers)
    assert again.status_code == 200 and again.json()["id"] == booking["id"]
    assert len(calendly.state.calls("POST", "/invitees")) == 1

    cancel = await client.delete(
        f"{ACTIVE}/bookings/{booking['id']}", params={"reason": "visitor asked"}, headers=me.headers
    )
    assert cancel.status_code == 204, cancel.text
    (sent,) = calendly.state.calls("POST", f"/scheduled_events/{booking['id']}/cancellation")
    assert sent.body == {"reason": "visitor asked"}
    assert calendly.state.data["events"][booking["id"]]["status"] == "canceled"
    (cancelled,) = await events.wait_for("booking.cancelled", booking_id=booking["id"])
    assert cancelled["payload"]["source"] == "platform"
    assert cancelled["payload"]["reason"] == "visitor asked"

    # Cancelling twice is harmless and does not call the provider again.
    assert (
        await client.delete(f"{ACTIVE}/bookings/{booking['id']}", headers=me.headers)
    ).status_code == 204
    assert len(calendly.state.calls("POST", "/scheduled_events/")) == 1


async def test_a_failed_booking_post_is_not_retried_so_nobody_is_booked_twice(
    client, owner, calendly
) -> None:
    me = await owner()
    await create_active(client, me.headers, calendly_config())
    calendly.state.answer_next(
        500, {"title": "Internal Server Error", "message": "Oops"}, path="/invitees", times=3
    )
    response = await client.post(
        f"{ACTIVE}/bookings",
        json={
            "event_type": ET30,
            "start": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
            "name": "Vera",
            "email": "vera@example.com",
        },
        headers=me.headers,
    )
    assert response.status_code == 502
    assert "Calendly is unavailable" in response.json()["detail"]
    assert len(calendly.state.calls("POST", "/invitees")) == 1


async def test_a_taken_slot_is_a_422_with_calendlys_message(client, owner, calendly) -> None:
    me = await owner()
    await create_active(client, me.headers, calendly_config())
    slot = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    calendly.state.data.setdefault("taken", set()).add(slot.strftime("%Y-%m-%dT%H:%M:%S.000000Z"))
    response = await client.post(
        f"{ACTIVE}/bookings",
        json={"event_type": ET30, "start": slot.isoformat(), "name": "V", "email": "v@example.com"},
        headers=me.headers,
    )
    assert response.status_code == 422
    assert "no longer available" in response.json()["detail"]


async def test_cancelling_an_unknown_booking_is_a_404(client, owner) -> None:
    me = await owner()
    await create_active(client, me.headers, calendly_config())
    response = await client.delete(f"{ACTIVE}/bookings/EVUNKNOWN", headers=me.headers)
    assert response.status_code == 404


async def test_scheduling_without_an_active_connector_is_a_clear_404(client, owner) -> None:
    me = await owner()
    await create(client, me.headers, calendly_config())
    response = await client.get(f"{ACTIVE}/event-types", headers=me.headers)
    assert response.status_code == 404
    assert "no active connector" in response.json()["detail"]


async def test_a_path_like_id_cannot_steer_the_provider_call(client, owner, calendly) -> None:
    me = await owner()
    await create_active(client, me.headers, calendly_config())
    response = await client.get(
        f"{ACTIVE}/availability",
        params={
            "event_type": "https://evil.example/event_types/..%2F..%2Fusers",
            "start": (date.today() + timedelta(days=1)).isoformat(),
            "end": (date.today() + timedelta(days=1)).isoformat(),
        },
        headers=me.headers,
    )
    assert response.status_code in (404, 422)
    assert not [r for r in calendly.state.requests if "evil" in r.path]
