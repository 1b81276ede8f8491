"""Who booked (contact, name, e-mail, phone, conversation) travels to every provider and back
on reads and filters; the owner's marks (attendance, the visitor's confirmation) on a booking."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from .booking_support import PROVIDERS, booker
from .calendar_support import ACTIVE, book, calendar


def visitor() -> dict[str, str]:
    """A new person each time: the fakes keep their customers and clients for the session."""
    n = uuid.uuid4().int
    return {
        "name": "Vera Visitor",
        "email": f"vera.{n % 10**12}@example.com",
        "phone": f"+569{n % 10**8:08d}",
    }


def only(state, method: str, path: str) -> list:
    return [c for c in state.calls(method, path) if c.path == path]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_booking_knows_who_booked_and_the_list_filters_by_contact_and_conversation(
    provider, client, owner, publish, query, events, calendly, square, agendapro
) -> None:
    b = await booker(provider, client, owner, publish, query)
    who = visitor()
    contact, conversation = uuid.uuid4(), uuid.uuid4()
    response = await client.post(
        f"{ACTIVE}/bookings",
        json=b.body(**who, contact_id=str(contact), conversation_id=str(conversation)),
        headers=b.headers,
    )
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["contact_id"] == str(contact)
    assert booking["conversation_id"] == str(conversation)
    assert (booking["visitor_name"], booking["visitor_email"], booking["visitor_phone"]) == (
        who["name"],
        who["email"],
        who["phone"],
    )
    assert booking["status"] == "confirmed"
    assert booking["attendance"] is None and booking["visitor_confirmed_at"] is None

    # What the provider was told about the visitor.
    if provider == "calendly":
        (sent,) = calendly.state.calls("POST", "/invitees")
        assert sent.body["invitee"]["name"] == who["name"]
        assert sent.body["invitee"]["email"] == who["email"]
        assert sent.body["invitee"]["text_reminder_number"] == who["phone"]
    elif provider == "square":
        (created,) = only(square.state, "POST", "/v2/customers")
        assert created.body["given_name"] == "Vera" and created.body["family_name"] == "Visitor"
        assert created.body["email_address"] == who["email"]
        assert created.body["phone_number"] == who["phone"]
        (sent,) = [
            c for c in square.state.calls("POST", "/v2/bookings") if c.path == "/v2/bookings"
        ]
        customer = square.state.data["customers"][sent.body["booking"]["customer_id"]]
        assert customer["phone_number"] == who["phone"]
    elif provider == "agendapro":
        (created,) = agendapro.state.calls("POST", "/v3/clients")
        assert created.body == {
            "first_name": "Vera",
            "last_name": "Visitor",
            "email": who["email"],
            "phone": who["phone"],
        }
        (sent,) = agendapro.state.calls("POST", "/v3/bookings")
        booked_for = agendapro.state.data["clients"][sent.body["client_id"]]
        assert (booked_for["email"], booked_for["phone"]) == (who["email"], who["phone"])
    else:
        rows = await query(
            "SELECT contact_id, visitor_name, visitor_email, visitor_phone, conversation_id "
            "FROM connectors.bookings WHERE external_id = :e",
            e=booking["id"],
        )
        assert tuple(rows[0]) == (
            contact,
            who["name"],
            who["email"],
            who["phone"],
            conversation,
        )
    (event,) = await events.wait_for("booking.created", booking_id=booking["id"])
    assert event["payload"]["contact_id"] == str(contact)
    assert event["payload"]["conversation_id"] == str(conversation)

    async def listed(**params) -> dict:
        answer = await client.get(f"{ACTIVE}/bookings", params=params, headers=b.headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert [x["id"] for x in (await listed(contact_id=str(contact)))["data"]] == [booking["id"]]
    by_conversation = await listed(conversation_id=str(conversation), status="confirmed")
    assert by_conversation["count"] == 1
    assert by_conversation["data"][0]["contact_id"] == str(contact)
    assert await listed(contact_id=str(uuid.uuid4())) == {"data": [], "count": 0}
    assert await listed(conversation_id=str(uuid.uuid4())) == {"data": [], "count": 0}


async def test_square_finds_the_customer_by_phone_when_the_email_is_new(
    client, owner, publish, query, square
) -> None:
    b = await booker("square", client, owner, publish, query)
    who = visitor()
    square.state.data["customers"]["CUSTKNOWN"] = {
        "id": "CUSTKNOWN",
        "given_name": "Vera",
        "phone_number": who["phone"],
    }
    response = await client.post(f"{ACTIVE}/bookings", json=b.body(**who), headers=b.headers)
    assert response.status_code == 201, response.text
    searches = [
        c.body["query"]["filter"] for c in square.state.calls("POST", "/v2/customers/search")
    ]
    assert searches == [
        {"email_address": {"exact": who["email"]}},
        {"phone_number": {"exact": who["phone"]}},
    ]
    assert not only(square.state, "POST", "/v2/customers")
    (sent,) = only(square.state, "POST", "/v2/bookings")
    assert sent.body["booking"]["customer_id"] == "CUSTKNOWN"


async def test_agendapro_finds_the_client_by_phone_when_no_email_is_given(
    client, owner, publish, query, agendapro
) -> None:
    b = await booker("agendapro", client, owner, publish, query)
    who = visitor()
    first = await client.post(f"{ACTIVE}/bookings", json=b.body(**who), headers=b.headers)
    assert first.status_code == 201, first.text
    again = await client.post(
        f"{ACTIVE}/bookings",
        json=b.body(name="Vera", phone=who["phone"]),
        headers=b.headers,
    )
    assert again.status_code == 201, again.text
    assert len(agendapro.state.calls("POST", "/v3/clients")) == 1
    ids = {c.body["client_id"] for c in agendapro.state.calls("POST", "/v3/bookings")}
    assert len(ids) == 1


async def test_a_malformed_contact_or_conversation_is_a_422(client, owner, publish, query) -> None:
    cal = await calendar(client, owner, publish, query)
    bad = await book(client, cal, cal.at(cal.day(), "09:00"), contact_id="not-a-uuid")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "contact_id"
    listed = await client.get(
        f"{ACTIVE}/bookings", params={"conversation_id": "42"}, headers=cal.headers
    )
    assert listed.status_code == 422


# -- marks ---------------------------------------------------------------------------------


async def _until_an_hour_ago(query, booking_id: str) -> timedelta:
    rows = await query(
        "SELECT start_at FROM connectors.bookings WHERE external_id = :e", e=booking_id
    )
    return rows[0][0] - (datetime.now(UTC) - timedelta(hours=1))


async def _started(query, booking_id: str) -> None:
    """Let the booking's time come: move it (and the time it holds) to an hour ago."""
    await query(
        "UPDATE connectors.bookings SET start_at = start_at - CAST(:d AS interval), "
        "end_at = end_at - CAST(:d AS interval), held_from = held_from - CAST(:d AS interval), "
        "held_until = held_until - CAST(:d AS interval) WHERE external_id = :e",
        d=await _until_an_hour_ago(query, booking_id),
        e=booking_id,
    )


async def test_the_owner_marks_attendance_once_the_booking_has_started(
    client, owner, publish, query, events
) -> None:
    cal = await calendar(client, owner, publish, query)
    booking = (await book(client, cal, cal.at(cal.day(), "09:00"))).json()
    url = f"{ACTIVE}/bookings/{booking['id']}"

    early = await client.patch(url, json={"attendance": "attended"}, headers=cal.headers)
    assert early.status_code == 422
    assert "has not started yet" in early.json()["detail"]

    await _started(query, booking["id"])
    marked = await client.patch(url, json={"attendance": "no_show"}, headers=cal.headers)
    assert marked.status_code == 200, marked.text
    assert marked.json()["attendance"] == "no_show" and marked.json()["id"] == booking["id"]
    changed = await client.patch(url, json={"attendance": "attended"}, headers=cal.headers)
    assert changed.json()["attendance"] == "attended"
    listed = await client.get(f"{ACTIVE}/bookings", headers=cal.headers)
    assert listed.json()["data"][0]["attendance"] == "attended"

    cleared = await client.patch(url, json={"attendance": None}, headers=cal.headers)
    assert cleared.status_code == 200 and cleared.json()["attendance"] is None

    # Each change is announced, in order, for the stats on the conversations side; the
    # refused early mark and a mark that changes nothing announce nothing.
    unchanged = await client.patch(url, json={"attendance": None}, headers=cal.headers)
    assert unchanged.status_code == 200
    await client.patch(url, json={"attendance": "attended"}, headers=cal.headers)
    marks = await events.wait_for("booking.marked", count=4, booking_id=booking["id"])
    assert [m["payload"]["attendance"] for m in marks] == ["no_show", "attended", None, "attended"]


async def test_the_visitor_confirmation_is_recorded_once_by_the_internal_caller(
    client, owner, publish, query, as_user
) -> None:
    cal = await calendar(client, owner, publish, query)
    booking = (await book(client, cal, cal.at(cal.day(), "11:00"))).json()
    url = f"{ACTIVE}/bookings/{booking['id']}"
    agent = as_user(cal.me.user_id)  # the agent calls with a fresh token for the owner
    before = datetime.now(UTC)
    first = await client.patch(url, json={"visitor_confirmed": True}, headers=agent)
    assert first.status_code == 200, first.text
    confirmed_at = datetime.fromisoformat(first.json()["visitor_confirmed_at"])
    assert before <= confirmed_at <= datetime.now(UTC)
    assert first.json()["attendance"] is None  # a future booking: only the confirmation

    again = await client.patch(url, json={"visitor_confirmed": True}, headers=agent)
    assert again.json()["visitor_confirmed_at"] == first.json()["visitor_confirmed_at"]
    rows = await query(
        "SELECT visitor_confirmed_at FROM connectors.bookings WHERE external_id = :e",
        e=booking["id"],
    )
    assert rows[0][0] == confirmed_at


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"attendance": "maybe"}, "attendance"),
        ({"visitor_confirmed": False}, "visitor_confirmed"),
        ({"attendance": "attended", "colour": "red"}, "colour"),
    ],
)
async def test_an_unknown_mark_is_a_422_naming_the_field(
    client, owner, publish, query, body, field
) -> None:
    cal = await calendar(client, owner, publish, query)
    booking = (await book(client, cal, cal.at(cal.day(), "13:00"))).json()
    await _started(query, booking["id"])
    response = await client.patch(
        f"{ACTIVE}/bookings/{booking['id']}", json=body, headers=cal.headers
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field
    rows = await query(
        "SELECT attendance, visitor_confirmed_at FROM connectors.bookings WHERE external_id = :e",
        e=booking["id"],
    )
    assert tuple(rows[0]) == (None, None)


async def test_an_empty_mark_or_a_cancelled_booking_is_a_422_with_the_reason(
    client, owner, publish, query
) -> None:
    cal = await calendar(client, owner, publish, query)
    booking = (await book(client, cal, cal.at(cal.day(), "14:00"))).json()
    url = f"{ACTIVE}/bookings/{booking['id']}"
    empty = await client.patch(url, json={}, headers=cal.headers)
    assert empty.status_code == 422 and "attendance" in empty.json()["detail"]
    await client.delete(url, headers=cal.headers)
    await _started(query, booking["id"])
    cancelled = await client.patch(url, json={"attendance": "no_show"}, headers=cal.headers)
    assert cancelled.status_code == 422 and "cancelled" in cancelled.json()["detail"]


async def test_another_owners_booking_cannot_be_marked(
    client, owner, publish, query, as_user
) -> None:
    mine = await calendar(client, owner, publish, query)
    theirs = await calendar(client, owner, publish, query)
    booking = (await book(client, theirs, theirs.at(theirs.day(), "10:00"))).json()
    await _started(query, booking["id"])
    for body in ({"attendance": "no_show"}, {"visitor_confirmed": True}):
        response = await client.patch(
            f"{ACTIVE}/bookings/{booking['id']}", json=body, headers=mine.headers
        )
        assert response.status_code == 404, response.text
        assert response.json()["detail"] == "Booking not found"
    rows = await query(
        "SELECT attendance, visitor_confirmed_at FROM connectors.bookings WHERE external_id = :e",
        e=booking["id"],
    )
    assert tuple(rows[0]) == (None, None)
    unknown = await client.patch(
        f"{ACTIVE}/bookings/{uuid.uuid4()}", json={"attendance": "attended"}, headers=mine.headers
    )
    assert unknown.status_code == 404
    no_workspace = await client.patch(
        f"{ACTIVE}/bookings/{booking['id']}",
        json={"attendance": "attended"},
        headers=as_user(uuid.uuid4()),
    )
    assert no_workspace.status_code == 404
