"""Web chat: a visitor opens a conversation on a workspace's public page and writes in it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from conversations.db.models import Conversation, Message
from conversations.db.uow import ConversationsUnitOfWork
from conversations.db.visitor_typing import VisitorTypingRepository
from conversations.domain import contacts as contact_rules
from conversations.domain.errors import ConversationNotFound, WorkspaceNotFound
from conversations.usecases.access import workspace_by_handle
from conversations.usecases.contacts import contact_for_visitor
from conversations.usecases.messages import emit_started, store_message


async def open_web_conversation(
    uow: ConversationsUnitOfWork,
    handle: str,
    visitor_name: str | None,
    visitor_contact: str | None,
    visitor_email: str | None = None,
    visitor_phone: str | None = None,
    client_address: str | None = None,
) -> Conversation:
    """A new web chat and its contact. What the visitor typed (an e-mail, a phone, or the
    free contact field) is kept on the contact as a claim, never as proof; a badly written
    e-mail or phone is refused (InvalidContactDetail), so the widget can ask again."""
    async with uow:
        workspace = await workspace_by_handle(uow, handle)
        if workspace is None:
            raise WorkspaceNotFound("Workspace not found")
        region = contact_rules.region_of(workspace.phone)
        email = contact_rules.normalize_email(visitor_email) if visitor_email else None
        phone = contact_rules.normalize_phone(visitor_phone, region) if visitor_phone else None
        now = datetime.now(UTC)
        # Each web chat is its own visitor: the token, not a cookie, identifies them.
        visitor_id = f"web:{uuid.uuid4().hex}"
        contact_id = await contact_for_visitor(
            uow,
            workspace.id,
            "web",
            visitor_id,
            name=visitor_name,
            typed_contact=visitor_contact,
            email=email,
            phone=phone,
            default_region=region,
        )
        conversation = await uow.conversations.insert_if_absent(
            {
                "id": uuid.uuid4(),
                "workspace_id": workspace.id,
                "channel": "web",
                "visitor_id": visitor_id,
                "visitor_name": visitor_name,
                "visitor_contact": visitor_contact or email or phone,
                "started_at": now,
                "last_activity_at": now,
                "contact_id": contact_id,
                # For WEBCHAT_BOOKINGS_PER_ADDRESS_PER_DAY (usecases/identity.py).
                "client_address": (client_address or "")[:64] or None,
            }
        )
        assert conversation is not None  # fresh visitor id
        await emit_started(uow, conversation)
        await uow.commit()
        return conversation


async def post_visitor_message(
    uow: ConversationsUnitOfWork, conversation_id: uuid.UUID, content: str
) -> Message:
    async with uow:
        conversation = await uow.conversations.get_any(conversation_id)
        if conversation is None or conversation.channel != "web":
            raise ConversationNotFound("Conversation not found")
        message = await store_message(
            uow, conversation, role="visitor", content=content, sent_at=datetime.now(UTC)
        )
        assert message is not None
        await uow.commit()
        return message


async def note_visitor_typing(uow: ConversationsUnitOfWork, conversation_id: uuid.UUID) -> None:
    """The visitor is writing: the agent holds its answer while these signals keep coming."""
    async with uow:
        if not await VisitorTypingRepository(uow.session).mark(conversation_id):
            raise ConversationNotFound("Conversation not found")
        await uow.commit()
