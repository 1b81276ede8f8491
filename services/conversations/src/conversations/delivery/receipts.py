"""Status webhooks (WhatsApp `statuses[]`, Twilio StatusCallback, Messenger/Instagram
delivery and read watermarks) move a sent reply forward only: sent < delivered < read, and
failed, with the provider's reason, from any state.

A receipt can arrive before the send it describes is recorded (the provider calls back
before our commit): it is kept in `early_receipts` and applied when the id is stored.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from conversations.db.models import Message
from conversations.db.uow import ConversationsUnitOfWork
from conversations.delivery.repository import DeliveryRepository, Moved
from conversations.delivery.service import emit_moved
from conversations.domain.rules import delivery_advances, normalize_delivery_state
from shared.events import InboundMessageAcceptedV1

log = logging.getLogger(__name__)

# What a watermark may move forward: only replies the provider took (a reply still being
# recorded, or one whose outcome is unknown, may not be among "the messages sent before").
_BELOW = {"delivered": ("sent",), "read": ("sent", "delivered")}


def receipt_error(channel: str, metadata: dict[str, Any]) -> str | None:
    """`whatsapp 131047: Re-engagement message (details)` or `sms 30003: Unreachable`."""
    errors = metadata.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        text = str(first.get("title") or first.get("message") or "failed")
        details = (first.get("error_data") or {}).get("details")
        if isinstance(details, str) and details and details != text:
            text += f" ({details})"
        return f"{channel} {first.get('code', '?')}: {text}"[:500]
    code = metadata.get("error_code")
    if code:
        message = metadata.get("error_message") or "delivery failed"
        return f"{channel} {code}: {message}"[:500]
    return None


async def apply_receipt(
    uow: ConversationsUnitOfWork, workspace_id: uuid.UUID, event: InboundMessageAcceptedV1
) -> None:
    state = normalize_delivery_state(event.status or "")
    if state is None:
        log.info("delivery state ignored", extra={"status": event.status})
        return
    repo = DeliveryRepository(uow.session)
    watermark = event.metadata.get("watermark")
    if watermark is not None and state in _BELOW:
        await _watermark(uow, repo, workspace_id, event, state)
        return
    error = receipt_error(event.channel, event.metadata) if state == "failed" else None
    at = event.sent_at or datetime.now(UTC)
    message = await uow.messages.by_external_id(event.channel, event.external_id)
    if message is None and await _found_by_our_id(uow, repo, event, state, error):
        return
    if message is None:
        await repo.keep_early_receipt(event.channel, event.external_id, state, error, at)
        return
    if message.delivery_status is None or not delivery_advances(message.delivery_status, state):
        return  # a visitor's message, or a receipt older than what we know
    moved = await repo.move(
        message.id, from_states=(message.delivery_status,), to=state, error=error
    )
    if moved is not None:
        await emit_moved(uow, moved)
        if state == "failed" and event.channel == "sms" and "21610" in (error or ""):
            await repo.opt_out([moved.conversation_id])


async def _watermark(
    uow: ConversationsUnitOfWork,
    repo: DeliveryRepository,
    workspace_id: uuid.UUID,
    event: InboundMessageAcceptedV1,
    state: str,
) -> None:
    conversation = await uow.conversations.by_visitor(workspace_id, event.channel, event.visitor_id)
    if conversation is None:
        return
    before = datetime.fromtimestamp(int(event.metadata["watermark"]) / 1000, UTC)
    moved: list[Moved] = await repo.watermark(conversation.id, state, before, _BELOW[state])
    for row in moved:
        await emit_moved(uow, row)


async def _found_by_our_id(
    uow: ConversationsUnitOfWork,
    repo: DeliveryRepository,
    event: InboundMessageAcceptedV1,
    state: str,
    error: str | None,
) -> bool:
    """WhatsApp echoes our message id (`biz_opaque_callback_data`): a receipt for a reply
    whose outcome was unknown tells us it went out, and under which id."""
    try:
        message_id = uuid.UUID(str(event.metadata.get("callback_data") or ""))
    except ValueError:
        return False
    message = await uow.session.get(Message, message_id)
    if message is None or message.channel != event.channel or message.external_id is not None:
        return False
    if message.delivery_status != "unknown":
        return False
    moved = await repo.move(
        message.id, from_states=("unknown",), to=state, error=error, external_id=event.external_id
    )
    if moved is not None:
        await emit_moved(uow, moved)
    return moved is not None
