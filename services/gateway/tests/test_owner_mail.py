"""conversation.handed_off: the workspace's owner gets one e-mail, even if the event comes twice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from shared.events import ConversationHandedOffV1, Envelope
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
