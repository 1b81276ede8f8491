"""Storing messages: the one path every message takes (inbound, owner reply, web chat)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from conversations.db.models import Conversation, Message
from conversations.db.uow import ConversationsUnitOfWork
from conversations.domain.errors import ConversationNotFound, MessageNotFound
from conversations.domain.rules import reopens, time_saved_by
from conversations.usecases.access import owner_workspace
from shared.events import ConversationStartedV1, MessageReceivedV1, MessageReplyRequestedV1
from shared.tokens import Principal


async def emit_started(uow: ConversationsUnitOfWork, conversation: Conversation) -> None:
    await uow.emit(
        ConversationStartedV1(
            conversation_id=conversation.id,
            workspace_id=conversation.workspace_id,
            channel=conversation.channel,  # type: ignore[arg-type]
            visitor_id=conversation.visitor_id,
            visitor_name=conversation.visitor_name,
            started_at=conversation.started_at,
        )
    )


async def store_message(
    uow: ConversationsUnitOfWork,
    conversation: Conversation,
    *,
    role: str,
    content: str,
    sent_at: datetime,
    external_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    delivery_status: str | None = None,
) -> Message | None:
    """Store once, move the conversation's counters, emit `message.received`.

    None when (channel, external_id) was already stored: a provider retry changes nothing.
    """
    message = await uow.messages.insert_once(
        {
            "id": uuid.uuid4(),
            "conversation_id": conversation.id,
            "workspace_id": conversation.workspace_id,
            "role": role,
            "content": content,
            "channel": conversation.channel,
            "external_id": external_id,
            "sent_at": sent_at,
            "meta": metadata or {},
            "delivery_status": delivery_status,
        }
    )
    if message is None:
        return None
    await uow.conversations.record_message(
        conversation.id,
        sent_at,
        reopen=role == "visitor" and reopens(conversation.status),
        time_saved_seconds=time_saved_by(role),
    )
    await uow.emit(
        MessageReceivedV1(
            message_id=message.id,
            conversation_id=conversation.id,
            workspace_id=conversation.workspace_id,
            channel=conversation.channel,  # type: ignore[arg-type]
            role=role,  # type: ignore[arg-type]
            content=content,
            external_id=external_id,
            sent_at=sent_at,
        )
    )
    return message


async def store_reply(
    uow: ConversationsUnitOfWork,
    conversation: Conversation,
    *,
    role: str,
    content: str,
    sent_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> list[Message]:
    """An outbound reply (owner or agent): stored `pending` with `message.reply_requested`
    in the same transaction, so the delivery consumer sends it once. The one way a reply
    leaves the platform; the caller commits.
    """
    message = await store_message(
        uow,
        conversation,
        role=role,
        content=content,
        sent_at=sent_at or datetime.now(UTC),
        metadata=metadata,
        delivery_status="pending",
    )
    assert message is not None  # no external id, so never a duplicate
    await uow.emit(
        MessageReplyRequestedV1(
            message_id=message.id,
            conversation_id=conversation.id,
            workspace_id=conversation.workspace_id,
            channel=conversation.channel,  # type: ignore[arg-type]
            role=role,  # type: ignore[arg-type]
        )
    )
    return [message]


async def post_owner_message(
    uow: ConversationsUnitOfWork,
    principal: Principal,
    conversation_id: uuid.UUID,
    content: str,
    role: str = "owner",
    sent_at: datetime | None = None,
) -> Message:
    async with uow:
        workspace = await owner_workspace(uow, principal)
        conversation = await uow.conversations.get(workspace.id, conversation_id)
        if conversation is None:
            raise ConversationNotFound("Conversation not found")
        messages = await store_reply(uow, conversation, role=role, content=content, sent_at=sent_at)
        await uow.commit()
        return messages[0]


async def delete_message(
    uow: ConversationsUnitOfWork, principal: Principal, message_id: uuid.UUID
) -> None:
    async with uow:
        workspace = await owner_workspace(uow, principal)
        message = await uow.messages.get(workspace.id, message_id)
        if message is None:
            raise MessageNotFound("Message not found")
        # Lock the conversation so a concurrent insert cannot skew the recount.
        await uow.conversations.get(workspace.id, message.conversation_id, lock=True)
        await uow.messages.delete(message)
        await uow.session.flush()
        await uow.conversations.recount(message.conversation_id)
        await uow.commit()
