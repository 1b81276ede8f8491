"""A web chat visitor proves who they are with a one-time code before the agent acts on a
booking made elsewhere (or books, when the owner requires it); a claimed e-mail proves
nothing and tells nothing. Real database and broker; the code is read from the e-mail event
the gateway would send."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from shared.testing import wait_until

from .test_agent_loop import chat_on


async def customer(s, execute, email: str) -> tuple[UUID, str]:
    """A contact of the shop with that e-mail and an upcoming Haircut booked earlier."""
    contact_id = uuid4()
    await execute(
        "INSERT INTO conversations.contacts (id, workspace_id, name, email) "
        "VALUES (:id, :w, 'Ana', :e)",
        id=contact_id,
        w=s.workspace_id,
        e=email,
    )
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    return contact_id, s.calendar.add_earlier(str(s.services["Haircut"]), start, contact_id)


async def mailed_code(query, s, to: str) -> str:
    async def found():
        rows = await query(
            "SELECT envelope->'payload'->>'text' AS text FROM conversations.outbox"
            " WHERE event_type = 'notification.email_requested'"
            " AND envelope->'payload'->>'to' = :to",
            to=to,
        )
        return rows[-1].text if rows else None

    text = await wait_until(found)
    match = re.search(r"Your code is (\d{6})", text)
    assert match, text
    return match.group(1)


async def mails_to(query, to: str) -> int:
    rows = await query(
        "SELECT count(*) AS n FROM conversations.outbox"
        " WHERE event_type = 'notification.email_requested' AND envelope->'payload'->>'to' = :to",
        to=to,
    )
    return int(rows[0].n)


async def test_a_returning_web_visitor_proves_the_email_and_cancels_an_earlier_booking(
    agent, shop, publish, query, execute
):
    s = await shop()
    email = f"ana.{uuid4().hex[:6]}@example.com"
    _, booking_id = await customer(s, execute, email)
    c = chat_on(s, "web", f"web-{uuid4().hex[:8]}", publish, query)

    ask = await c.turn("hola! quiero cancelar mi cita del jueves")
    assert "dime el e-mail con el que reservaste" in ask
    sent = await c.turn(email)
    assert "le llegará un código" in sent
    code = await mailed_code(query, s, email)
    wrong = "000000" if code != "000000" else "111111"
    assert "no es correcto" in await c.turn(wrong)
    assert [b.id for b in s.calendar.active()] == [booking_id]  # nothing done yet

    done = await c.turn(f"el código es {code[:3]} {code[3:]}")
    assert "cancelad" in done, done
    assert s.calendar.active() == [] and s.calendar.cancel_reasons == {booking_id: "visitor"}


async def test_someone_elses_or_an_unknown_email_tells_nothing_and_changes_nothing(
    agent, shop, publish, query, execute, app
):
    s = await shop()
    victim = f"victim.{uuid4().hex[:6]}@example.com"
    await customer(s, execute, victim)
    unknown = f"nobody.{uuid4().hex[:6]}@example.com"

    answers = []
    for address in (victim, unknown):
        c = chat_on(s, "web", f"web-{uuid4().hex[:8]}", publish, query)
        await c.turn("I need to cancel my booking")
        answers.append(await c.turn(f"it's {address}"))
        # Guessing: wrong codes until the code locks (the fifth try); the booking stays.
        attempts = app.state.agent.settings.identity_code_attempts
        replies = [await c.turn(f"{n:06d}") for n in range(123450, 123450 + attempts)]
        assert "isn't right" in replies[0]
        assert "can't be used any more" in replies[-1]
    assert answers[0] == answers[1]  # the same words whether or not the address has bookings
    assert "If that address is on a booking here" in answers[0]
    assert await mails_to(query, unknown) == 0 and await mails_to(query, victim) == 1
    assert len(s.calendar.active()) == 1


async def test_the_owner_can_require_a_proven_email_before_a_web_chat_booking(
    agent, shop, publish, query, client
):
    s = await shop()
    changed = await client.patch(
        "/api/v1/agent/settings",
        json={"require_verified_contact_on_webchat": True, "required_contact": "name"},
        headers=s.headers,
    )
    assert changed.status_code == 200, changed.text
    c = chat_on(s, "web", f"web-{uuid4().hex[:8]}", publish, query)
    await c.turn("hi")
    await c.turn("haircut")
    first = await c.turn("1")
    assert "I need to confirm who you are" in first and s.calendar.active() == []
    email = f"new.{uuid4().hex[:6]}@example.com"
    assert "a code is on its way" in await c.turn(email)
    code = await mailed_code(query, s, email)
    done = await c.turn(code)
    assert "booked for Haircut" in done, done
    [booking] = s.calendar.active()
    conversation = await c.conversation()
    [contact] = await query(
        "SELECT email, email_verified_at FROM conversations.contacts WHERE id = :c",
        c=conversation["contact_id"],
    )
    assert contact.email == email and contact.email_verified_at is not None
    assert booking.contact_id == conversation["contact_id"]


async def test_anonymous_web_chat_bookings_stop_at_the_address_limit_and_the_owner_is_told(
    agent, shop, publish, query, execute, app
):
    s = await shop()
    limit = app.state.agent.settings.webchat_bookings_per_address_per_day
    address = f"198.51.100.{uuid4().int % 250}"

    async def book_once(n: int) -> str:
        c = chat_on(s, "web", f"web-{uuid4().hex[:8]}", publish, query)
        await c.turn("hi")
        conversation = await c.conversation()
        await execute(
            "UPDATE conversations.conversations SET client_address = :a WHERE id = :id",
            a=address,
            id=conversation["id"],
        )
        await c.turn("haircut")
        await c.turn("1")
        return await c.turn(f"I'm Visitor {n}, visitor{n}.{uuid4().hex[:4]}@example.com")

    for n in range(1, limit + 1):
        assert "booked for Haircut" in await book_once(n)
    refused = await book_once(1)
    assert "can't take more bookings from this connection today" in refused
    assert "will get back to you" in refused or "Acme" in refused
    assert len(s.calendar.active()) == limit
