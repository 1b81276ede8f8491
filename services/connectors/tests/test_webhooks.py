"""Provider webhooks: signed deliveries become booking events through the outbox; forged,
expired or replayed ones store and emit nothing."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

from .conftest import CALENDLY_SIGNING_KEY, PUBLIC_BASE_URL, SQUARE_SIGNATURE_KEY
from .fakes import SQUARE_TOKEN, add_square_location, add_square_merchant
from .support import BASE, calendly_config, create, create_active, square_config

CANONICAL = "https://api.calendly.com"


def calendly_headers(body: bytes, at: int | None = None, key: str = CALENDLY_SIGNING_KEY) -> dict:
    t = int(time.time()) if at is None else at
    signature = hmac.new(key.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Calendly-Webhook-Signature": f"t={t},v1={signature}"}


def square_headers(body: bytes, url: str = f"{PUBLIC_BASE_URL}/api/v1/webhooks/square") -> dict:
    digest = hmac.new(SQUARE_SIGNATURE_KEY.encode(), url.encode() + body, hashlib.sha256).digest()
    return {"x-square-hmacsha256-signature": base64.b64encode(digest).decode()}


def invitee_event(name: str, user_uri: str, event_id: str, **extra) -> bytes:
    start = (datetime.now(UTC) + timedelta(days=4)).replace(microsecond=0)
    invitee = f"{CANONICAL}/scheduled_events/{event_id}/invitees/INV{uuid.uuid4().hex[:8]}"
    payload = {
        "uri": invitee,
        "email": "walkin@example.com",
        "name": "Walk In",
        "status": "canceled" if name == "invitee.canceled" else "active",
        "timezone": "America/Santiago",
        "event": f"{CANONICAL}/scheduled_events/{event_id}",
        "text_reminder_number": "+56900000000",
        "rescheduled": False,
        "scheduled_event": {
            "uri": f"{CANONICAL}/scheduled_events/{event_id}",
            "name": "30 Minute Meeting",
            "status": "active",
            "start_time": start.isoformat().replace("+00:00", "Z"),
            "end_time": (start + timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
            "event_type": f"{CANONICAL}/event_types/ET30",
            "event_memberships": [{"user": user_uri}],
        },
    } | extra
    return json.dumps(
        {
            "event": name,
            "created_at": datetime.now(UTC).isoformat(),
            "created_by": user_uri,
            "payload": payload,
        }
    ).encode()


async def calendly_account(client, owner, calendly, query) -> tuple:
    """An owner whose active Calendly connector has been checked (so its user URI is known)."""
    me = await owner()
    token = f"calendly-token-{uuid.uuid4().hex}"
    calendly.state.tokens.add(token)
    connector = await create_active(client, me.headers, calendly_config(access_token=token))
    check = await client.post(f"{BASE}/{connector['id']}/check", headers=me.headers)
    assert check.status_code == 200, check.text
    rows = await query(
        "SELECT account_ref FROM connectors.connectors WHERE id = :id", id=connector["id"]
    )
    return me, connector, rows[0][0]


async def test_a_signed_calendly_invitee_created_becomes_booking_created(
    client, owner, calendly, query, events, as_user
) -> None:
    me, connector, user_uri = await calendly_account(client, owner, calendly, query)
    body = invitee_event("invitee.created", user_uri, "EVWEBHOOK1")
    response = await client.post(
        "/api/v1/webhooks/calendly", content=body, headers=as_user(None) | calendly_headers(body)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "emitted"}
    (created,) = await events.wait_for("booking.created", booking_id="EVWEBHOOK1")
    assert created["payload"]["source"] == "provider"
    assert created["payload"]["workspace_id"] == str(me.workspace_id)
    assert created["payload"]["connector_id"] == connector["id"]
    assert created["payload"]["visitor_email"] == "walkin@example.com"
    assert created["payload"]["event_type"] == f"{CANONICAL}/event_types/ET30"
    # The owner's bookings list shows it with its visitor.
    listed = await client.get(f"{BASE}/active/bookings", headers=me.headers)
    (booking,) = listed.json()["data"]
    assert (booking["id"], booking["source"], booking["visitor_email"]) == (
        "EVWEBHOOK1",
        "provider",
        "walkin@example.com",
    )

    # Calendly retries the same delivery: recorded once, emitted once.
    again = await client.post(
        "/api/v1/webhooks/calendly", content=body, headers=as_user(None) | calendly_headers(body)
    )
    assert again.json() == {"status": "duplicate"}
    rows = await query("SELECT count(*) FROM connectors.bookings WHERE external_id = 'EVWEBHOOK1'")
    assert rows[0][0] == 1


async def test_a_calendly_reschedule_arrives_as_cancel_then_create(
    client, owner, calendly, query, events, as_user
) -> None:
    me, _, user_uri = await calendly_account(client, owner, calendly, query)
    old, new = "EVRESOLD1", "EVRESNEW1"
    for body in (
        invitee_event("invitee.created", user_uri, old),
        invitee_event(
            "invitee.canceled",
            user_uri,
            old,
            rescheduled=True,
            cancellation={"reason": "rescheduled", "canceler_type": "invitee"},
        ),
        invitee_event("invitee.created", user_uri, new),
    ):
        response = await client.post(
            "/api/v1/webhooks/calendly",
            content=body,
            headers=as_user(None) | calendly_headers(body),
        )
        assert response.json() == {"status": "emitted"}, response.text
    (cancelled,) = await events.wait_for("booking.cancelled", booking_id=old)
    assert cancelled["payload"]["source"] == "provider"
    # Said as a move (shared.events MOVED), so the visitor is not told of a cancellation.
    assert cancelled["payload"]["reason"] == "moved"
    await events.wait_for("booking.created", booking_id=new, workspace_id=me.workspace_id)


async def test_forged_expired_or_unsigned_calendly_webhooks_store_and_emit_nothing(
    client, owner, calendly, query, as_user
) -> None:
    _, _, user_uri = await calendly_account(client, owner, calendly, query)
    body = invitee_event("invitee.created", user_uri, "EVFORGED1")
    attempts = [
        calendly_headers(body, key="not-the-signing-key"),
        calendly_headers(body, at=int(time.time()) - 3600),  # a replay of an old delivery
        calendly_headers(b"{}"),  # signature of another body
        {},
        {"Calendly-Webhook-Signature": "garbage"},
    ]
    for headers in attempts:
        response = await client.post(
            "/api/v1/webhooks/calendly", content=body, headers=as_user(None) | headers
        )
        assert response.status_code == 401, (headers, response.text)
    assert (
        await query(
            "SELECT count(*) FROM connectors.webhook_receipts WHERE delivery_key LIKE :k",
            k="%EVFORGED1%",
        )
    )[0][0] == 0
    assert (
        await query("SELECT count(*) FROM connectors.bookings WHERE external_id = 'EVFORGED1'")
    )[0][0] == 0
    rows = await query(
        "SELECT count(*) FROM connectors.outbox WHERE envelope->'payload'->>'booking_id' = :b",
        b="EVFORGED1",
    )
    assert rows[0][0] == 0


async def test_a_webhook_for_an_unknown_account_is_accepted_and_recorded(
    client, query, as_user
) -> None:
    body = invitee_event("invitee.created", f"{CANONICAL}/users/NOBODY", "EVNOBODY1")
    response = await client.post(
        "/api/v1/webhooks/calendly", content=body, headers=as_user(None) | calendly_headers(body)
    )
    assert response.status_code == 200
    assert response.json() == {"status": "unrouted"}
    rows = await query(
        "SELECT outcome FROM connectors.webhook_receipts WHERE delivery_key LIKE :k",
        k="%EVNOBODY1%",
    )
    assert [r[0] for r in rows] == ["unrouted"]


def square_event(type_: str, booking_id: str, location: str, status: str, **extra) -> bytes:
    start = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    return json.dumps(
        {
            "merchant_id": "MERCHANT1",
            "type": type_,
            "event_id": str(uuid.uuid4()),
            "created_at": datetime.now(UTC).isoformat(),
            "data": {
                "type": "booking",
                "id": f"{booking_id}:1",
                "object": {
                    "booking": {
                        "id": booking_id,
                        "version": 1,
                        "status": status,
                        "start_at": start.isoformat().replace("+00:00", "Z"),
                        "location_id": location,
                        "customer_id": "CUSTX",
                        "appointment_segments": [
                            {
                                "duration_minutes": 45,
                                "service_variation_id": "VAR30",
                                "team_member_id": "TM1",
                            }
                        ],
                    }
                },
            },
        }
        | extra
    ).encode()


async def test_square_booking_created_and_cancelled_become_events(
    client, owner, events, query, as_user, square
) -> None:
    me = await owner()
    location = add_square_location(square.state, f"LOC{uuid.uuid4().hex[:10].upper()}")
    connector = await create_active(client, me.headers, square_config(location_id=location))

    created = square_event("booking.created", "SQWEB1", location, "ACCEPTED")
    response = await client.post(
        "/api/v1/webhooks/square", content=created, headers=as_user(None) | square_headers(created)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "emitted"}
    (event,) = await events.wait_for("booking.created", booking_id="SQWEB1")
    assert event["payload"]["source"] == "provider"
    assert event["payload"]["connector_id"] == connector["id"]
    start = datetime.fromisoformat(event["payload"]["start"])
    assert datetime.fromisoformat(event["payload"]["end"]) - start == timedelta(minutes=45)

    duplicate = await client.post(
        "/api/v1/webhooks/square", content=created, headers=as_user(None) | square_headers(created)
    )
    assert duplicate.json() == {"status": "duplicate"}

    moved = square_event("booking.updated", "SQWEB1", location, "ACCEPTED")
    response = await client.post(
        "/api/v1/webhooks/square", content=moved, headers=as_user(None) | square_headers(moved)
    )
    assert response.json() == {"status": "ignored"}

    cancelled = square_event("booking.updated", "SQWEB1", location, "CANCELLED_BY_CUSTOMER")
    response = await client.post(
        "/api/v1/webhooks/square",
        content=cancelled,
        headers=as_user(None) | square_headers(cancelled),
    )
    assert response.json() == {"status": "emitted"}
    (event,) = await events.wait_for("booking.cancelled", booking_id="SQWEB1")
    assert event["payload"]["source"] == "provider"
    assert event["payload"]["workspace_id"] == str(me.workspace_id)
    rows = await query("SELECT status FROM connectors.bookings WHERE external_id = 'SQWEB1'")
    assert rows[0][0] == "cancelled"


async def test_forged_square_webhooks_store_and_emit_nothing(
    client, owner, query, as_user, square
) -> None:
    me = await owner()
    location = add_square_location(square.state, f"LOC{uuid.uuid4().hex[:10].upper()}")
    await create_active(client, me.headers, square_config(location_id=location))
    body = square_event("booking.created", "SQFORGED1", location, "ACCEPTED")
    for headers in (
        {"x-square-hmacsha256-signature": "AAAA"},
        square_headers(body, url="https://attacker.example/api/v1/webhooks/square"),
        square_headers(b"another body"),
        {},
    ):
        response = await client.post(
            "/api/v1/webhooks/square", content=body, headers=as_user(None) | headers
        )
        assert response.status_code == 401
    rows = await query(
        "SELECT count(*) FROM connectors.webhook_receipts WHERE provider = 'square' "
        "AND delivery_key = :k",
        k=json.loads(body)["event_id"],
    )
    assert rows[0][0] == 0
    assert (
        await query("SELECT count(*) FROM connectors.bookings WHERE external_id = 'SQFORGED1'")
    )[0][0] == 0


async def test_the_webhook_for_a_booking_the_platform_made_is_not_announced_twice(
    client, owner, events, as_user, square
) -> None:
    me = await owner()
    location = add_square_location(square.state, f"LOC{uuid.uuid4().hex[:10].upper()}")
    await create_active(client, me.headers, square_config(location_id=location))
    made = await client.post(
        f"{BASE}/active/bookings",
        json={
            "event_type": "VAR30",
            "start": (datetime.now(UTC) + timedelta(days=6)).isoformat(),
            "name": "Vera",
            "phone": "+14155550100",
            "staff_id": "TM1",
        },
        headers=me.headers,
    )
    assert made.status_code == 201, made.text
    booking_id = made.json()["id"]
    body = square_event("booking.created", booking_id, location, "ACCEPTED")
    response = await client.post(
        "/api/v1/webhooks/square", content=body, headers=as_user(None) | square_headers(body)
    )
    assert response.json() == {"status": "known"}
    await events.wait_for("booking.created", booking_id=booking_id)
    assert len(events.of("booking.created", booking_id=booking_id)) == 1


async def send_square(client, as_user, body: bytes) -> str:
    response = await client.post(
        "/api/v1/webhooks/square", content=body, headers=as_user(None) | square_headers(body)
    )
    assert response.status_code == 200, response.text
    return response.json()["status"]


async def test_a_square_location_claimed_with_another_merchants_token_gets_no_webhooks(
    client, owner, events, query, as_user, square
) -> None:
    location = add_square_location(square.state, f"LOC{uuid.uuid4().hex[:10].upper()}")
    squatter, seller = await owner(), await owner()
    # The squatter types the seller's location id with a token of their own merchant, first,
    # so theirs would be the oldest active connector for that location.
    their_token = add_square_merchant(square.state, f"sq-{uuid.uuid4().hex}", "MERCHANT2")
    claimed = await create(
        client, squatter.headers, square_config(access_token=their_token, location_id=location)
    )
    refused = await client.post(f"{BASE}/{claimed['id']}/activate", headers=squatter.headers)
    assert refused.status_code == 422, refused.text
    assert location in refused.json()["detail"]
    assert "not visible" in refused.json()["detail"]
    after = (await client.get(f"{BASE}/{claimed['id']}", headers=squatter.headers)).json()
    assert after["is_active"] is False and after["verified_at"] is None
    assert not events.of("connector.activated", connector_id=claimed["id"])

    real = await create_active(client, seller.headers, square_config(location_id=location))
    assert real["verified_at"] is not None and real["status"] == "ok"
    asked = square.state.calls("GET", f"/v2/locations/{location}")
    assert [c.headers["authorization"] for c in asked] == [
        f"Bearer {their_token}",
        f"Bearer {SQUARE_TOKEN}",
    ]

    body = square_event("booking.created", f"SQSQUAT{uuid.uuid4().hex[:6]}", location, "ACCEPTED")
    assert await send_square(client, as_user, body) == "emitted"
    booking_id = json.loads(body)["data"]["object"]["booking"]["id"]
    (event,) = await events.wait_for("booking.created", booking_id=booking_id)
    assert event["payload"]["connector_id"] == real["id"]
    assert event["payload"]["workspace_id"] == str(seller.workspace_id)

    # A notification naming another merchant for this location is not the seller's either.
    other = square_event(
        "booking.created",
        f"SQOTHER{uuid.uuid4().hex[:6]}",
        location,
        "ACCEPTED",
        merchant_id="MERCHANT2",
    )
    assert await send_square(client, as_user, other) == "unrouted"


async def test_an_unverified_square_connector_receives_nothing_until_proven_again(
    client, owner, events, query, as_user, square
) -> None:
    location = add_square_location(square.state, f"LOC{uuid.uuid4().hex[:10].upper()}")
    me = await owner()
    connector = await create_active(client, me.headers, square_config(location_id=location))
    assert connector["verified_at"] is not None

    # New credentials are unproven: the connector stays active but hears nothing.
    token = add_square_merchant(square.state, f"sq-{uuid.uuid4().hex}", "MERCHANT1")
    changed = await client.patch(
        f"{BASE}/{connector['id']}", json={"config": {"access_token": token}}, headers=me.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["verified_at"] is None and changed.json()["is_active"] is True
    first = square_event("booking.created", f"SQUNV{uuid.uuid4().hex[:6]}", location, "ACCEPTED")
    assert await send_square(client, as_user, first) == "unrouted"
    rows = await query(
        "SELECT outcome, connector_id FROM connectors.webhook_receipts WHERE delivery_key = :k",
        k=json.loads(first)["event_id"],
    )
    assert [tuple(r) for r in rows] == [("unrouted", None)]

    # Activating again proves the new token sees the location; webhooks follow.
    again = await client.post(f"{BASE}/{connector['id']}/activate", headers=me.headers)
    assert again.status_code == 200, again.text
    assert again.json()["verified_at"] is not None
    second = square_event("booking.created", f"SQVER{uuid.uuid4().hex[:6]}", location, "ACCEPTED")
    assert await send_square(client, as_user, second) == "emitted"
    booking_id = json.loads(second)["data"]["object"]["booking"]["id"]
    (event,) = await events.wait_for("booking.created", booking_id=booking_id)
    assert event["payload"]["connector_id"] == connector["id"]
    first_id = json.loads(first)["data"]["object"]["booking"]["id"]
    assert not events.of("booking.created", booking_id=first_id)


async def test_there_is_no_agendapro_webhook_route(client, as_user) -> None:
    response = await client.post("/api/v1/webhooks/agendapro", content=b"{}", headers=as_user(None))
    assert response.status_code in (404, 405)


async def test_webhooks_without_a_configured_key_are_refused_and_store_nothing(
    settings, as_user
) -> None:
    import httpx

    from connectors.main import create_app

    app = create_app(
        settings.model_copy(
            update={"calendly_webhook_signing_key": "", "square_webhook_signature_key": ""}
        )
    )
    transport = httpx.ASGITransport(app=app)  # no lifespan: nothing may be touched
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as bare:
        for provider in ("calendly", "square"):
            body = b'{"event": "invitee.created"}'
            response = await bare.post(
                f"/api/v1/webhooks/{provider}",
                content=body,
                headers=as_user(None) | calendly_headers(body, key=""),
            )
            assert response.status_code == 503
            assert "not configured" in response.json()["detail"]
    await app.state.services.providers.aclose()
    await app.state.runtime.engine.dispose()
