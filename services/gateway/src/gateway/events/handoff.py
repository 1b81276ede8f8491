"""The gateway owns e-mail and knows users: when the agent hands a conversation off, the
workspace's owner is told by e-mail."""

from __future__ import annotations

import logging

from gateway.db.models import inbox
from gateway.db.uow import IdentityUnitOfWork
from gateway.emails import EmailSender
from shared.db.inbox import claim_event
from shared.events import ConversationHandedOffV1, Envelope
from shared.runtime import Runtime

log = logging.getLogger(__name__)
CONSUMER = "gateway"


def register(runtime: Runtime, emails: EmailSender) -> None:
    async def on_conversation_handed_off(envelope: Envelope) -> None:
        """Claimed once (inbox), then mailed after the commit: the SMTP call never holds a
        transaction, and a redelivery sends nothing twice."""
        event = envelope.parsed()
        assert isinstance(event, ConversationHandedOffV1)
        async with IdentityUnitOfWork(runtime.sessionmaker) as uow:
            first = await claim_event(
                uow.session, inbox, CONSUMER, envelope.event_id, envelope.type
            )
            owner = await uow.users.get(event.owner_id) if event.owner_id and first else None
            await uow.commit()
        if not first:
            return
        if owner is None or not owner.is_active:
            log.info("handoff not mailed: no active owner", extra={"event_type": envelope.type})
            return
        await emails.send(emails.handoff(owner.email, event))

    runtime.bus.subscribe(ConversationHandedOffV1, on_conversation_handed_off, consumer=CONSUMER)
