"""What concerns a workspace's owner is mailed to them once, even if the event comes twice: a
conversation handed off to them, a booking a visitor cancelled or moved."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from email.header import decode_header, make_header

from shared.events import BookingChangedByVisitorV1, ConversationHandedOffV1, Envelope
from shared.testing import wait_until


async def test_a_handoff_emails_the_owner_once_with_the_reason_and_a_link(
    app, owner, mailbox
) -> None:
    box, _ = mailbox
    conversation_id = uuid.uuid4()
    envelope = Envelope.wrap(
        ConversationHandedOffV1(
            conversation_id=conversation_id,
            workspace_id=uuid.uuid4(),
            channel="whatsapp",
            reason="visitor asked for a person",
            visitor_name="Ana",
            handed_off_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
            owner_id=uuid.UUID(owner["id"]),
        ),
        producer="conversations",
    )
    bus = app.state.runtime.bus
    await bus.publish(envelope, mandatory=True)
    await bus.publish(envelope, mandatory=True)  # a redelivery

    async def mailed():
        return _handoffs(box.to(owner["email"]))

    [message] = await wait_until(mailed)
    assert "A visitor is waiting for you" in message["Subject"]
    html = (
        next(p for p in message.walk() if p.get_content_type() == "text/html")
        .get_payload(decode=True)
        .decode()
    )
    assert "visitor asked for a person" in html and "with Ana" in html
    assert f"/conversations/{conversation_id}" in html
    await asyncio.sleep(0.5)  # the duplicate has been consumed by now, and sent nothing
    assert len(_handoffs(box.to(owner["email"]))) == 1


async def test_a_handoff_for_an_unknown_owner_mails_nobody(app, mailbox) -> None:
    box, _ = mailbox
    before = len(_handoffs(box.messages))
    envelope = Envelope.wrap(
        ConversationHandedOffV1(
            conversation_id=uuid.uuid4(),
            workspace_id=uuid.uuid4(),
            channel="web",
            reason="no active connector",
            handed_off_at=datetime.now(UTC),
            owner_id=uuid.uuid4(),
        ),
        producer="conversations",
    )
    await app.state.runtime.bus.publish(envelope, mandatory=True)
    await asyncio.sleep(0.5)
    assert len(_handoffs(box.messages)) == before


def _handoffs(messages):
    return [m for m in messages if "waiting for you" in m["Subject"]]


def _subject(message) -> str:
    """As the owner reads it: decoded (a visitor's name may need RFC 2047) and unfolded."""
    return " ".join(str(make_header(decode_header(message["Subject"]))).split())


def _html(message) -> str:
    return (
        next(p for p in message.walk() if p.get_content_type() == "text/html")
        .get_payload(decode=True)
        .decode()
    )


def _changed(owner_id: uuid.UUID, **fields) -> Envelope:
    return Envelope.wrap(
        BookingChangedByVisitorV1(
            workspace_id=uuid.uuid4(),
            conversation_id=uuid.uuid4(),
            owner_id=owner_id,
            channel="whatsapp",
            visitor_name="Lucía Pérez",
            booking_id=f"bk-{uuid.uuid4().hex[:8]}",
            service="Corte de pelo",
            start=datetime(2026, 12, 8, 9, 0, tzinfo=UTC),  # 10:00 in Madrid
            timezone="Europe/Madrid",
            changed_at=datetime.now(UTC),
            **fields,
        ),
        producer="conversations",
    )


async def test_a_booking_the_visitor_moved_after_a_reminder_is_mailed_once_in_local_time(
    app, owner, mailbox
) -> None:
    box, _ = mailbox
    envelope = _changed(
        uuid.UUID(owner["id"]),
        change="moved",
        new_start=datetime(2026, 12, 9, 16, 30, tzinfo=UTC),
        after_reminder=True,
    )
    bus = app.state.runtime.bus
    await bus.publish(envelope, mandatory=True)
    await bus.publish(envelope, mandatory=True)  # a redelivery

    def moved(messages):
        return [m for m in messages if "moved Corte de pelo" in _subject(m)]

    async def mailed():
        return moved(box.to(owner["email"]))

    [message] = await wait_until(mailed)
    assert _subject(message).endswith("Lucía Pérez moved Corte de pelo")
    html = _html(message)
    assert "Tuesday 08 December 2026, 10:00" in html  # the owner's wall clock, not UTC
    assert "Wednesday 09 December 2026, 17:30" in html and "Europe/Madrid" in html
    assert "answer to a reminder" in html
    assert f"/conversations/{envelope.payload['conversation_id']}" in html
    await asyncio.sleep(0.5)  # the duplicate has been consumed by now, and sent nothing
    assert len(moved(box.to(owner["email"]))) == 1


async def test_a_booking_the_visitor_cancelled_is_mailed_to_the_owner_only(
    app, owner, mailbox
) -> None:
    box, _ = mailbox
    envelope = _changed(uuid.UUID(owner["id"]), change="cancelled")
    stranger = _changed(uuid.uuid4(), change="cancelled")  # an owner who does not exist
    await app.state.runtime.bus.publish(stranger, mandatory=True)
    await app.state.runtime.bus.publish(envelope, mandatory=True)

    async def mailed():
        return [m for m in box.messages if "cancelled Corte de pelo" in _subject(m)]

    [message] = await wait_until(mailed)
    assert message["To"] == owner["email"]
    html = _html(message)
    assert "cancelled their Corte de pelo on Tuesday 08 December 2026, 10:00" in html
    assert "answer to a reminder" not in html
