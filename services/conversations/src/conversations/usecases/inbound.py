"""Consuming `inbound_message.accepted`: every channel's messages in, once, in order."""

from __future__ import annotations

import logging
import uuid

from conversations.db.models import Conversation
from conversations.db.uow import ConversationsUnitOfWork
from conversations.delivery.receipts import apply_receipt
from conversations.domain.delivery import opt_out_change
from conversations.usecases.contacts import contact_for_visitor
from conversations.usecases.messages import emit_started, store_message
from shared.events import Envelope, InboundMessageAcceptedV1

log = logging.getLogger(__name__)


async def accept_inbound_message(uow: ConversationsUnitOfWork, envelope: Envelope) -> None:
    """Route to a workspace, open or continue the conversation, store the message once.

    Runs inside the consumer's transaction (inbox claim + effect + outbox, one commit). What
    cannot be routed is recorded in `unrouted_messages` and acknowledged: retrying would not
    make an unknown account known. The batch path (`usecases.inbound_batch`) does the same for
    many messages at once and comes here for anything but a plain visitor message.
    """
    event = envelope.parsed()
    assert isinstance(event, InboundMessageAcceptedV1)
    workspace_id, account_ref = await _route(uow, event)
    await accept_routed(uow, envelope, event, workspace_id, account_ref)


async def accept_routed(
    uow: ConversationsUnitOfWork,
    envelope: Envelope,
    event: InboundMessageAcceptedV1,
    workspace_id: uuid.UUID | None,
    account_ref: uuid.UUID | None,
) -> None:
    """One inbound item whose route is known (None: it has none)."""
    if workspace_id is None:
        await _record_unrouted(uow, envelope, event, "unknown_account")
        return
    if event.kind == "status":
        await apply_receipt(uow, workspace_id, event)
        return

    conversation, created = await conversation_for(uow, workspace_id, event, account_ref)
    if conversation is None:
        await _record_unrouted(uow, envelope, event, "unknown_conversation")
        return
    if created:
        await emit_started(uow, conversation)
    await store_message(
        uow,
        conversation,
        role="visitor",
        content=event.content,
        sent_at=event.sent_at,
        external_id=event.external_id,
        metadata=event.metadata,
    )
    if event.channel == "sms":
        # Twilio stops our sends after STOP (21610) until START: mirror it, so replies fail
        # with that reason instead of a provider error.
        change = opt_out_change(event.content)
        if change is not None:
            await uow.conversations.set_opted_out(conversation.id, change)


async def _route(
    uow: ConversationsUnitOfWork, event: InboundMessageAcceptedV1
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """(workspace id, channel account id) of an inbound item; (None, None) when unrouted.

    An account id routes only through a verified channel account. With both ids (an
    integrator's post, signed with that account's own secret) they must still agree: the
    account may have been deleted and claimed by another workspace since the gateway looked.
    """
    if event.account_id is not None:
        found = await uow.channel_accounts.route_account(event.channel, event.account_id)
        if found is not None and event.workspace_id not in (None, found[0]):
            return None, None
        # An account of a deleted workspace is gone with it; this guards a race with that.
        if found is not None and await uow.workspaces.get(found[0]) is not None:
            return found
        return None, None
    if event.workspace_id is not None:
        workspace = await uow.workspaces.get(event.workspace_id)
        return (workspace.id if workspace else None), None
    return None, None


async def conversation_for(
    uow: ConversationsUnitOfWork,
    workspace_id: uuid.UUID,
    event: InboundMessageAcceptedV1,
    account_ref: uuid.UUID | None = None,
) -> tuple[Conversation | None, bool]:
    if event.conversation_id is not None:
        found = await uow.conversations.get(workspace_id, event.conversation_id)
        if found is not None and found.channel != event.channel:
            found = None
        return found, False
    # Most messages continue a conversation: one lookup, and nothing else for them.
    existing = await uow.conversations.by_visitor(workspace_id, event.channel, event.visitor_id)
    if existing is None:
        contact_id = await contact_for_visitor(
            uow,
            workspace_id,
            event.channel,
            event.visitor_id,
            name=event.visitor_name,
            typed_contact=event.visitor_contact,
            channel_verified=True,
        )
        created = await uow.conversations.insert_if_absent(
            {
                "id": uuid.uuid4(),
                "workspace_id": workspace_id,
                "channel": event.channel,
                "visitor_id": event.visitor_id,
                "visitor_name": event.visitor_name,
                "visitor_contact": event.visitor_contact,
                "started_at": event.sent_at,
                "last_activity_at": event.sent_at,
                "channel_account_id": account_ref,
                "contact_id": contact_id,
            }
        )
        if created is not None:
            return created, True
        # Another consumer opened it since our lookup (it found the same contact).
        existing = await uow.conversations.by_visitor(workspace_id, event.channel, event.visitor_id)
    if existing is not None and existing.visitor_name is None and event.visitor_name:
        existing.visitor_name = event.visitor_name
    if existing is not None and account_ref is not None and existing.channel_account_id is None:
        existing.channel_account_id = account_ref
    return existing, False


async def _record_unrouted(
    uow: ConversationsUnitOfWork,
    envelope: Envelope,
    event: InboundMessageAcceptedV1,
    reason: str,
) -> None:
    log.warning(
        "inbound message not routed",
        extra={"reason": reason, "channel": event.channel, "account_id": event.account_id},
    )
    await uow.unrouted.record(
        {
            "event_id": envelope.event_id,
            "channel": event.channel,
            "account_id": event.account_id,
            "workspace_id": event.workspace_id,
            "external_id": event.external_id,
            "kind": event.kind,
            "reason": reason,
            "payload": envelope.payload,
        }
    )
