"""The owner's side of the agent: its settings, and handing a conversation back to it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func

from conversations.db.agent import AgentRepository
from conversations.db.models import AgentSettings, Conversation
from conversations.db.uow import ConversationsUnitOfWork
from conversations.domain import conversation_state as state_change
from conversations.domain.errors import ConversationNotFound
from conversations.usecases.access import owner_workspace
from shared.tokens import Principal


@dataclass(frozen=True, slots=True)
class SettingsView:
    enabled: bool
    greeting: str | None
    minutes_per_reply: int
    channels: list[str] | None
    required_contact: str = "name_and_phone_or_email"
    require_verified_contact_on_webchat: bool = False


def _view(row: AgentSettings) -> SettingsView:
    return SettingsView(
        enabled=row.enabled,
        greeting=row.greeting,
        minutes_per_reply=row.minutes_per_reply,
        channels=sorted(row.channels) if row.channels is not None else None,
        required_contact=row.required_contact or "name_and_phone_or_email",
        require_verified_contact_on_webchat=bool(row.require_verified_contact_on_webchat),
    )


async def read_agent_settings(uow: ConversationsUnitOfWork, principal: Principal) -> SettingsView:
    async with uow:
        workspace = await owner_workspace(uow, principal)
        return _view(await AgentRepository(uow.session).settings(workspace.id))


async def change_agent_settings(
    uow: ConversationsUnitOfWork, principal: Principal, changes: dict[str, Any]
) -> SettingsView:
    """Partial update; the next turn reads it (nothing is cached)."""
    if "channels" in changes and changes["channels"] is not None:
        changes["channels"] = sorted(set(changes["channels"]))
    async with uow:
        workspace = await owner_workspace(uow, principal)
        row = await AgentRepository(uow.session).save_settings(workspace.id, changes)
        view = _view(row)
        await uow.commit()
        return view


async def resume_agent(
    uow: ConversationsUnitOfWork, principal: Principal, conversation_id: uuid.UUID
) -> Conversation:
    """The owner hands the conversation back: the agent answers the visitor's next message."""
    async with uow:
        workspace = await owner_workspace(uow, principal)
        conversation = await uow.conversations.get(workspace.id, conversation_id, lock=True)
        if conversation is None:
            raise ConversationNotFound("Conversation not found")
        state_change.apply(conversation, state_change.handed_back(conversation.status))
        conversation.updated_at = func.now()
        await AgentRepository(uow.session).reset_memory(conversation.id)
        await uow.session.flush()
        await uow.session.refresh(conversation)
        await uow.commit()
        return conversation
