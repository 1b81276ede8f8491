"""Storing messages: the one path every message takes (inbound, owner reply, web chat)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from sqlalchemy import bindparam, select

from conversations.db.models import Conversation, Message
from conversations.db.repositories import OWNERS_WORKSPACE_ID, REPLYING, NewMessage
from conversations.db.uow import ConversationsUnitOfWork
from conversations.domain.delivery import (
    RETRYABLE_BY_OWNER,
    WINDOWED_CHANNELS,
    reply_policy,
    split_reply,
)
from conversations.domain.errors import (
    ConversationNotFound,
    InvalidReply,
    MessageNotFound,
    MessageNotRetryable,
)
from conversations.domain.rules import reopens, time_saved_by
from conversations.usecases.access import owner_workspace
from shared.db.raw import Prepared, Raw
from shared.events import (
    ConversationStartedV1,
    Envelope,
    Event,
    MessageDeliveryUpdatedV1,
    MessageReceivedV1,
    MessageReplyRequestedV1,
)
from shared.tokens import Principal


class Replying(Protocol):
    """A conversation a message is stored in: its model, or a row read for the purpose."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def workspace_id(self) -> uuid.UUID: ...
    @property
    def channel(self) -> str: ...
    @property
    def status(self) -> str: ...


async def emit_started(uow: ConversationsUnitOfWork, conversation: Conversation) -> None:
    await uow.emit(
        ConversationStartedV1(
            conversation_id=conversation.id,
            workspace_id=conversation.workspace_id,
            channel=conversation.channel,  # type: ignore[arg-type]
            visitor_id=conversation.visitor_id,
            visitor_name=conversation.visitor_name,
            started_at=conversation.started_at,
            contact_id=conversation.contact_id,
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
    stored = await _store(
        uow,
        conversation,
        role=role,
        content=content,
        sent_at=sent_at,
        external_id=external_id,
        metadata=metadata,
        delivery_status=delivery_status,
    )
    if stored is None:
        return None
    message, received = stored
    await uow.emit(received)
    return message


async def _store(
    uow: ConversationsUnitOfWork,
    conversation: Conversation,
    *,
    role: str,
    content: str,
    sent_at: datetime,
    external_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    delivery_status: str | None = None,
) -> tuple[Message, MessageReceivedV1] | None:
    """store_message without the emit: the caller emits `message.received` (with others)."""
    stored = await uow.messages.add(
        conversation,
        role,
        [NewMessage(uuid.uuid4(), content, sent_at, metadata or {}, external_id)],
        delivery_status=delivery_status,
        reopen=role == "visitor" and reopens(conversation.status),
        time_saved_seconds=time_saved_by(role),
    )
    if not stored:
        return None
    return stored[0], _received(conversation, stored[0])


def _received(conversation: Replying, message: Message) -> MessageReceivedV1:
    return MessageReceivedV1(
        message_id=message.id,
        conversation_id=conversation.id,
        workspace_id=conversation.workspace_id,
        channel=conversation.channel,  # type: ignore[arg-type]
        role=message.role,  # type: ignore[arg-type]
        content=message.content,
        external_id=message.external_id,
        sent_at=message.sent_at,
    )


async def store_reply(
    uow: ConversationsUnitOfWork,
    conversation: Replying,
    *,
    role: str,
    content: str,
    sent_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
    last_visitor: datetime | Literal["unread"] | None = "unread",
) -> list[Message]:
    """An outbound reply (owner or agent): stored `pending` with `message.reply_requested`
    in the same transaction, so the delivery consumer sends it once. The one way a reply
    leaves the platform; the caller commits.

    The channel's rules apply here, for the owner and the agent alike: outside its messaging
    window a reply raises ReplyWindowClosed (a WhatsApp template, `metadata["template"]`,
    may go at any time; a Messenger/Instagram owner reply gets the HUMAN_AGENT tag up to 7
    days); a reply longer than the channel carries is split at word boundaries into several
    messages, in order (ReplyTooLong where that would mislead). Returns the messages stored.
    `last_visitor`: when the visitor last wrote, if the caller read it already.
    """
    meta = dict(metadata or {})
    channel = conversation.channel
    template = meta.get("template")
    if template is not None and channel != "whatsapp":
        raise InvalidReply("Templates exist on WhatsApp only; send a text reply instead")
    now = datetime.now(UTC)
    if last_visitor == "unread":
        last_visitor = (
            await uow.conversations.last_visitor_message_at(conversation.id)
            if channel in WINDOWED_CHANNELS
            else None
        )
    policy = reply_policy(channel, role, last_visitor, now, template=template is not None)
    if policy.tag is not None:
        meta["tag"] = policy.tag
    parts = [content] if template is not None else split_reply(channel, content)
    start = sent_at or now
    stored = await uow.messages.add(
        conversation,
        role,
        [
            NewMessage(
                uuid.uuid4(),
                part,
                # A microsecond apart: the conversation's order (sent_at, id) keeps the parts'.
                start + timedelta(microseconds=number),
                meta | ({"part": number + 1, "parts": len(parts)} if len(parts) > 1 else {}),
            )
            for number, part in enumerate(parts)
        ],
        delivery_status="pending",
        time_saved_seconds=time_saved_by(role),
    )
    events: list[tuple[Event, Envelope | None]] = []
    for message in stored:  # no external ids, so none was skipped
        requested = MessageReplyRequestedV1(
            message_id=message.id,
            conversation_id=conversation.id,
            workspace_id=conversation.workspace_id,
            channel=channel,  # type: ignore[arg-type]
            role=role,  # type: ignore[arg-type]
        )
        events += [(_received(conversation, message), None), (requested, None)]
    await uow.emit_many(events)  # one outbox statement for every part's two events
    return stored


def template_preview(template: dict[str, Any]) -> str:
    """What the owner's inbox shows for a template message."""
    parameters = ", ".join(template.get("parameters") or [])
    return f"[template {template['name']} ({template['language']})]" + (
        f" {parameters}" if parameters else ""
    )


async def post_owner_message(
    uow: ConversationsUnitOfWork,
    principal: Principal,
    conversation_id: uuid.UUID,
    content: str | None,
    template: dict[str, Any] | None = None,
) -> list[Message]:
    """The owner's reply, stored and queued for delivery in one transaction."""
    last_visitor: datetime | Literal["unread"] | None
    async with uow:
        found = (
            await Raw(uow.session).row(
                _OWNED_CONVERSATION,
                {"owner_id": principal.user_id, "conversation_id": conversation_id},
            )
            if principal.user_id is not None
            else None
        )
        conversation: Replying | None
        if found is not None:  # the conversation and when its visitor wrote, in one read
            conversation, last_visitor = found, found.last_visitor_at
        else:  # no workspace yet (or not projected yet), or not this owner's: say which
            workspace = await owner_workspace(uow, principal)
            conversation = await uow.conversations.get(workspace.id, conversation_id)
            if conversation is None:
                raise ConversationNotFound("Conversation not found")
            last_visitor = "unread"
        if template is not None:
            metadata: dict[str, Any] | None = {"template": template}
            text = content or template_preview(template)
        else:
            metadata, text = None, content or ""
        messages = await store_reply(
            uow,
            conversation,
            role="owner",
            content=text,
            metadata=metadata,
            last_visitor=last_visitor,
        )
        await uow.commit()
        return messages


# The conversation, if it belongs to the owner's live workspace (owner_workspace's choice:
# the newest), with when its visitor last wrote (the messaging windows count from it).
_OWNED_CONVERSATION = Prepared(
    select(*REPLYING).where(
        Conversation.id == bindparam("conversation_id"),
        Conversation.workspace_id == OWNERS_WORKSPACE_ID,
    )
)


async def retry_message(
    uow: ConversationsUnitOfWork, principal: Principal, message_id: uuid.UUID
) -> Message:
    """Send a failed reply, or one whose outcome is unknown, again (the owner's decision:
    an unknown one may reach the visitor twice)."""
    async with uow:
        workspace = await owner_workspace(uow, principal)
        message = await uow.messages.get(workspace.id, message_id, lock=True)
        if message is None:
            raise MessageNotFound("Message not found")
        if message.delivery_status not in RETRYABLE_BY_OWNER:
            raise MessageNotRetryable(
                "Only a failed reply, or one whose outcome is unknown, can be sent again; "
                f"this one is {message.delivery_status or 'a visitor message'}"
            )
        conversation = await uow.conversations.get(workspace.id, message.conversation_id)
        assert conversation is not None
        if conversation.channel in WINDOWED_CHANNELS:
            last_visitor = await uow.conversations.last_visitor_message_at(conversation.id)
            policy = reply_policy(
                conversation.channel,
                message.role,
                last_visitor,
                datetime.now(UTC),
                template=(message.meta or {}).get("template") is not None,
            )
            meta = {k: v for k, v in (message.meta or {}).items() if k != "tag"}
            message.meta = meta | ({"tag": policy.tag} if policy.tag else {})
        message.delivery_status = "pending"
        message.delivery_error = None
        message.delivery_updated_at = datetime.now(UTC)
        await uow.session.flush()
        await uow.emit(
            MessageDeliveryUpdatedV1(
                message_id=message.id,
                conversation_id=message.conversation_id,
                workspace_id=message.workspace_id,
                channel=message.channel,  # type: ignore[arg-type]
                delivery_status="pending",
                updated_at=message.delivery_updated_at,
            )
        )
        await uow.emit(
            MessageReplyRequestedV1(
                message_id=message.id,
                conversation_id=message.conversation_id,
                workspace_id=message.workspace_id,
                channel=message.channel,  # type: ignore[arg-type]
                role=message.role,  # type: ignore[arg-type]
            )
        )
        await uow.commit()
        return message


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
