"""The gateway owns e-mail and knows users: events that concern a workspace's owner (a
conversation handed off to them, a booking a visitor cancelled or moved) are mailed to them.

Each event is claimed once (inbox), then mailed after the commit: the SMTP call never holds a
transaction, and a redelivery sends nothing twice. An owner who is gone or inactive gets
nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from gateway.db.models import inbox
from gateway.db.uow import IdentityUnitOfWork
from gateway.emails import Email, EmailSender
from shared.db.inbox import claim_event
from shared.events import (
    BookingChangedByVisitorV1,
    ConversationHandedOffV1,
    Envelope,
    Event,
)
from shared.runtime import Runtime

log = logging.getLogger(__name__)
CONSUMER = "gateway"
E = TypeVar("E", bound=Event)


def register(runtime: Runtime, emails: EmailSender) -> None:
    subscribe_owner_mail(runtime, emails, ConversationHandedOffV1, emails.handoff)
    subscribe_owner_mail(runtime, emails, BookingChangedByVisitorV1, emails.booking_changed)


def subscribe_owner_mail(
    runtime: Runtime,
    emails: EmailSender,
    event_type: type[E],
    compose: Callable[[str, E], Email],
) -> None:
    """Mail `compose(owner's address, event)` to the owner named by the event's `owner_id`."""

    async def on_event(envelope: Envelope) -> None:
        event: Any = envelope.parsed()
        assert isinstance(event, event_type)
        owner_id: UUID | None = event.owner_id  # type: ignore[attr-defined]
        async with IdentityUnitOfWork(runtime.sessionmaker) as uow:
            first = await claim_event(
                uow.session, inbox, CONSUMER, envelope.event_id, envelope.type
            )
            owner = await uow.users.get(owner_id) if owner_id and first else None
            await uow.commit()
        if not first:
            return
        if owner is None or not owner.is_active:
            log.info("not mailed: no active owner", extra={"event_type": envelope.type})
            return
        await emails.send(compose(owner.email, event))

    on_event.__name__ = f"on_{event_type.TYPE.replace('.', '_')}"
    runtime.bus.subscribe(event_type, on_event, consumer=CONSUMER)
