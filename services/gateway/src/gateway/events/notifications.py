"""The gateway owns e-mail: conversations asks it to mail a visitor (a booking reminder or
confirmation for someone no chat channel reaches) with `notification.email_requested`."""

from __future__ import annotations

import logging

from gateway.db.models import inbox
from gateway.db.uow import IdentityUnitOfWork
from gateway.emails import EmailSender, render
from shared.db.inbox import claim_event
from shared.events import Envelope, NotificationEmailRequestedV1
from shared.runtime import Runtime

log = logging.getLogger(__name__)
CONSUMER = "gateway"


def register(runtime: Runtime, emails: EmailSender) -> None:
    async def on_notification_email_requested(envelope: Envelope) -> None:
        """Claimed once (inbox), then mailed after the commit: the SMTP call never holds a
        transaction, and a redelivery sends nothing twice."""
        event = envelope.parsed()
        assert isinstance(event, NotificationEmailRequestedV1)
        async with IdentityUnitOfWork(runtime.sessionmaker) as uow:
            first = await claim_event(
                uow.session, inbox, CONSUMER, envelope.event_id, envelope.type
            )
            await uow.commit()
        if not first:
            return
        await emails.send(
            render("visitor_notification.html", event.to, event.subject, text=event.text)
        )

    runtime.bus.subscribe(
        NotificationEmailRequestedV1, on_notification_email_requested, consumer=CONSUMER
    )
