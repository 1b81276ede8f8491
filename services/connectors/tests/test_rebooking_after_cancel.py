"""A visitor books, cancels, then picks the same time again with the same idempotency key (one
chat, one key): on every provider a live booking is made at that time and the answer says so,
never the cancelled booking as if it still held the time."""

from datetime import datetime

import pytest

from .booking_support import PROVIDERS, booker
from .calendar_support import ACTIVE


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_same_key_after_a_cancel_books_the_time_again_and_says_confirmed(
    provider, client, owner, publish, query, events, calendly, square, agendapro
) -> None:
    b = await booker(provider, client, owner, publish, query)
    key = f"conv-{provider}-rebook-0001"
    request = b.body(name="Vera Visitor", idempotency_key=key)

    first = await client.post(f"{ACTIVE}/bookings", json=request, headers=b.headers)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "confirmed"
    cancel = await client.delete(f"{ACTIVE}/bookings/{first.json()['id']}", headers=b.headers)
    assert cancel.status_code == 204, cancel.text
    await events.wait_for("booking.cancelled", booking_id=first.json()["id"])

    again = await client.post(f"{ACTIVE}/bookings", json=request, headers=b.headers)
    assert again.status_code == 201, again.text
    rebooked = again.json()
    assert rebooked["id"] != first.json()["id"]
    assert rebooked["status"] == "confirmed" and rebooked["idempotency_key"] == key
    assert datetime.fromisoformat(rebooked["start"]) == datetime.fromisoformat(b.start)
    await events.wait_for("booking.created", booking_id=rebooked["id"])

    # What the calendar holds at that time: one live booking, the new one.
    listed = await client.get(
        f"{ACTIVE}/bookings", params={"status": "confirmed"}, headers=b.headers
    )
    assert [x["id"] for x in listed.json()["data"]] == [rebooked["id"]]
    if provider == "square":
        # Square answers a repeated key with the booking first made with it: the rebooking
        # must reach it under a key of its own, or Square would hand back the cancelled one.
        sent = [
            c.body["idempotency_key"]
            for c in square.state.calls("POST", "/v2/bookings")
            if c.path == "/v2/bookings"
        ]
        assert len(sent) == 2 and sent[0] == key and sent[1] != key
        assert square.state.data["bookings"][rebooked["id"]]["status"] == "ACCEPTED"

    # The key now names the live booking: a repeat answers it (200) and books nothing more.
    repeat = await client.post(f"{ACTIVE}/bookings", json=request, headers=b.headers)
    assert repeat.status_code == 200, repeat.text
    assert repeat.json()["id"] == rebooked["id"] and repeat.json()["status"] == "confirmed"
    rows = await query(
        "SELECT status, count(*) FROM connectors.bookings WHERE workspace_id = :w "
        "GROUP BY status ORDER BY status",
        w=b.workspace_id,
    )
    assert [tuple(r) for r in rows] == [("cancelled", 1), ("confirmed", 1)]


async def test_a_square_answer_with_a_cancelled_booking_is_never_reported_as_booked(
    client, owner, publish, query, square
) -> None:
    """Should Square ever answer a booking request with a booking it has cancelled (a key it
    remembers), the answer is a 409, not a booking that holds nothing."""
    b = await booker("square", client, owner, publish, query)
    square.state.answer_next(
        200,
        {"booking": {"id": "BOOKOLD", "status": "CANCELLED_BY_CUSTOMER", "start_at": b.start}},
        path="/v2/bookings",
    )
    response = await client.post(
        f"{ACTIVE}/bookings",
        json=b.body(name="Vera", idempotency_key="conv-sq-old-1"),
        headers=b.headers,
    )
    assert response.status_code == 409, response.text
    assert "cancelled" in response.json()["detail"]
    rows = await query(
        "SELECT count(*) FROM connectors.bookings WHERE workspace_id = :w", w=b.workspace_id
    )
    assert rows[0][0] == 0
