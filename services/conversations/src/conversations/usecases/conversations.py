"""Owner-side conversation writes: record one by hand, change status/tags/time saved, delete."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func

from conversations.db.models import Conversation
from conversations.db.uow import ConversationsUnitOfWork
from conversations.domain import contacts as contact_rules
from conversations.domain import conversation_state as state_change
from conversations.domain.errors import ConversationNotFound, VisitorTaken
from conversations.domain.rules import normalize_tags
from conversations.usecases.access import owner_workspace
from conversations.usecases.contacts import contact_for_visitor
from conversations.usecases.messages import emit_started
from shared.tokens import Principal


@dataclass(frozen=True, slots=True)
class NewConversation:
    channel: str
    visitor_id: str | None = None
    visitor_name: str | None = None
    visitor_contact: str | None = None
    status: str = "open"
    tags: list[str] = field(default_factory=list)
    time_saved_seconds: int = 0
    started_at: datetime | None = None


async def record_conversation(
    uow: ConversationsUnitOfWork, principal: Principal, data: NewConversation
) -> Conversation:
    """An owner records a phone call or a conversation held elsewhere."""
    tags = normalize_tags(data.tags)
    started_at = data.started_at or datetime.now(UTC)
    async with uow:
        workspace = await owner_workspace(uow, principal)
        visitor_id = data.visitor_id or f"manual:{uuid.uuid4().hex}"
        # What the owner typed is a claim: only a channel proves a phone.
        contact_id = await contact_for_visitor(
            uow,
            workspace.id,
            data.channel,
            visitor_id,
            name=data.visitor_name,
            typed_contact=data.visitor_contact,
            default_region=contact_rules.region_of(workspace.phone),
        )
        conversation = await uow.conversations.insert_if_absent(
            {
                "id": uuid.uuid4(),
                "workspace_id": workspace.id,
                "channel": data.channel,
                "visitor_id": visitor_id,
                "contact_id": contact_id,
                "visitor_name": data.visitor_name,
                "visitor_contact": data.visitor_contact,
                "status": data.status,
                "tags": tags,
                "time_saved_seconds": data.time_saved_seconds,
                "started_at": started_at,
                "last_activity_at": started_at,
            }
        )
        if conversation is None:
            raise VisitorTaken(
                f"A {data.channel} conversation with visitor {data.visitor_id!r} already exists"
            )
        await emit_started(uow, conversation)
        await uow.commit()
        return conversation


@dataclass(frozen=True, slots=True)
class ConversationChanges:
    status: str | None = None
    tags: list[str] | None = None
    time_saved_seconds: int | None = None
    visitor_name: str | None = None


async def update_conversation(
    uow: ConversationsUnitOfWork,
    principal: Principal,
    conversation_id: uuid.UUID,
    changes: ConversationChanges,
) -> Conversation:
    tags = normalize_tags(changes.tags) if changes.tags is not None else None
    async with uow:
        workspace = await owner_workspace(uow, principal)
        conversation = await uow.conversations.get(workspace.id, conversation_id, lock=True)
        if conversation is None:
            raise ConversationNotFound("Conversation not found")
        if changes.status is not None:
            if changes.status == "resolved" and conversation.status != "resolved":
                state_change.apply(conversation, state_change.resolved_by_owner(func.now()))
            conversation.status = changes.status
        if tags is not None:
            conversation.tags = tags
        if changes.time_saved_seconds is not None:
            conversation.time_saved_seconds = changes.time_saved_seconds
        if changes.visitor_name is not None:
            conversation.visitor_name = changes.visitor_name
        conversation.updated_at = func.now()  # type: ignore[assignment]
        await uow.session.flush()
        await uow.session.refresh(conversation)
        await uow.commit()
        return conversation


async def delete_conversation(
    uow: ConversationsUnitOfWork, principal: Principal, conversation_id: uuid.UUID
) -> None:
    async with uow:
        workspace = await owner_workspace(uow, principal)
        conversation = await uow.conversations.get(workspace.id, conversation_id, lock=True)
        if conversation is None:
            raise ConversationNotFound("Conversation not found")
        await uow.conversations.delete(conversation)
        await uow.commit()
