"""notification.email_requested: the visitor gets the e-mail once, even if the event comes
twice, with the text as written (escaped, line breaks kept)."""

from __future__ import annotations

import uuid

from shared.events import Envelope, NotificationEmailRequestedV1
from shared.testing import wait_until


async def test_a_requested_visitor_email_is_sent_once_with_its_text(app, client, mailbox) -> None:
    box, _ = mailbox
    to = f"ana-{uuid.uuid4().hex[:8]}@example.com"
    envelope = Envelope.wrap(
        NotificationEmailRequestedV1(
            workspace_id=uuid.uuid4(),
            to=to,
            subject="Reminder: Haircut on Monday 10 May, 10:00",
            text="Hi Ana, this is a reminder of your Haircut <b>soon</b>.\nSee you!",
        ),
        producer="conversations",
    )
    bus = app.state.runtime.bus
    await bus.publish(envelope, mandatory=True)
    await bus.publish(envelope, mandatory=True)  # a redelivery

    async def mailed():
        return box.to(to)

    [message] = await wait_until(mailed)
    assert message["Subject"] == "Reminder: Haircut on Monday 10 May, 10:00"
    html = (
        next(p for p in message.walk() if p.get_content_type() == "text/html")
        .get_payload(decode=True)
        .decode()
    )
    assert "Haircut &lt;b&gt;soon&lt;/b&gt;.\r\nSee you!" in html  # SMTP line ends
    # A later event, mailed after the duplicate was consumed, shows nothing more came.
    second = f"ana-{uuid.uuid4().hex[:8]}@example.com"
    await bus.publish(
        Envelope.wrap(
            NotificationEmailRequestedV1(
                workspace_id=uuid.uuid4(), to=second, subject="Booked", text="ok"
            ),
            producer="conversations",
        ),
        mandatory=True,
    )

    async def second_mailed():
        return box.to(second)

    await wait_until(second_mailed)
    assert len(box.to(to)) == 1
