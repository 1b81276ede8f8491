"""The AgendaPro client, over HTTP, against a loopback fake of its public Connect v3 API."""

from datetime import date, datetime, timedelta

from .fakes import AGENDAPRO_KEY
from .support import BASE, agendapro_config, create, create_active

ACTIVE = f"{BASE}/active"


def config(**overrides):
    return agendapro_config(api_key=AGENDAPRO_KEY, service_provider_id=12964) | overrides


async def test_check_finds_the_location_and_a_bad_key_is_424(client, owner) -> None:
    me = await owner()
    good = await create(client, me.headers, config())
    response = await client.post(f"{BASE}/{good['id']}/check", headers=me.headers)
    assert response.status_code == 200 and response.json()["status"] == "ok"

    bad = await create(client, me.headers, config(api_key="apk_live_revoked_0000"))
    response = await client.post(f"{BASE}/{bad['id']}/check", headers=me.headers)
    assert response.status_code == 424
    assert "invalid_api_key" in response.json()["detail"]

    elsewhere = await create(client, me.headers, config(location_id=1))
    response = await client.post(f"{BASE}/{elsewhere['id']}/check", headers=me.headers)
    assert response.status_code == 422 and "not in this account" in response.json()["detail"]


async def test_services_and_local_slots_in_the_workspace_timezone(client, owner, agendapro) -> None:
    me = await owner("America/Santiago")
    await create_active(client, me.headers, config())
    types = (await client.get(f"{ACTIVE}/event-types", headers=me.headers)).json()
    assert types["data"] == [
        {"id": "3698", "name": "Corte de pelo", "duration_minutes": 30, "description": None}
    ]
    start = date.today() + timedelta(days=1)
    response = await client.get(
        f"{ACTIVE}/availability",
        params={
            "event_type": "3698",
            "start": start.isoformat(),
            "end": (start + timedelta(days=1)).isoformat(),
        },
        headers=me.headers,
    )
    assert response.status_code == 200, response.text
    slots = response.json()["data"]
    assert [s["start"][11:16] for s in slots] == ["09:00", "15:30", "09:00", "15:30"]
    assert all(s["staff_id"] == "12964" for s in slots)
    first = datetime.fromisoformat(slots[0]["start"])
    assert first.utcoffset() in (timedelta(hours=-3), timedelta(hours=-4))
    calls = agendapro.state.calls("GET", "/v3/available_slots")
    assert [c.query["start_date"] for c in calls] == [
        start.isoformat(),
        (start + timedelta(days=1)).isoformat(),
    ]
    assert calls[0].query["provider_id"] == "12964"


async def test_booking_creates_the_client_then_the_booking_and_cancels_it(
    client, owner, agendapro, events
) -> None:
    me = await owner("America/Santiago")
    await create_active(client, me.headers, config())
    start = (datetime.now().astimezone() + timedelta(days=2)).replace(microsecond=0)
    response = await client.post(
        f"{ACTIVE}/bookings",
        json={
            "event_type": "3698",
            "start": start.isoformat(),
            "name": "Maria Lopez",
            "email": "Maria.Lopez@example.com",
        },
        headers=me.headers,
    )
    assert response.status_code == 201, response.text
    booking = response.json()
    (client_call,) = agendapro.state.calls("POST", "/v3/clients")
    assert client_call.body["first_name"] == "Maria"
    assert client_call.body["last_name"] == "Lopez"
    assert client_call.body["email"].lower() == "maria.lopez@example.com"
    (sent,) = agendapro.state.calls("POST", "/v3/bookings")
    assert sent.body["service_id"] == 3698 and sent.body["provider_id"] == 12964
    assert sent.body["location_id"] == 3257 and sent.body["status_id"] == 1
    assert datetime.fromisoformat(sent.body["start_time"]) == start
    await events.wait_for("booking.created", booking_id=booking["id"], provider="agendapro")

    cancel = await client.delete(f"{ACTIVE}/bookings/{booking['id']}", headers=me.headers)
    assert cancel.status_code == 204
    assert agendapro.state.calls("PATCH", f"/v3/bookings/{booking['id']}/cancel")
    await events.wait_for("booking.cancelled", booking_id=booking["id"])


async def test_a_failed_agendapro_booking_post_is_never_repeated(client, owner, agendapro) -> None:
    me = await owner()
    await create_active(client, me.headers, config())
    agendapro.state.answer_next(
        502, {"error": "upstream_unavailable", "detail": None}, path="/v3/bookings", times=3
    )
    response = await client.post(
        f"{ACTIVE}/bookings",
        json={
            "event_type": "3698",
            "start": (datetime.now().astimezone() + timedelta(days=2)).isoformat(),
            "name": "Maria Lopez",
            "phone": "+56912345678",
        },
        headers=me.headers,
    )
    assert response.status_code == 502
    assert len(agendapro.state.calls("POST", "/v3/bookings")) == 1
