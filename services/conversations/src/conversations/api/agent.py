"""The owner's controls of the agent: settings per workspace, and handing a conversation back."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from conversations.api.deps import UowDep
from conversations.api.schemas import ConversationRead
from conversations.domain.rules import Channel
from conversations.usecases.agent import (
    change_agent_settings,
    read_agent_settings,
    resume_agent,
)
from shared.web import PrincipalDep

router = APIRouter(tags=["agent"])

RequiredContact = Literal["name", "name_and_phone_or_email", "name_and_phone", "name_and_email"]


class AgentSettingsRead(BaseModel):
    enabled: bool
    greeting: str | None = Field(
        description="Replaces the built-in greeting; `{name}` is the business name"
    )
    minutes_per_reply: int = Field(description="Owner minutes one agent reply saves (time saved)")
    channels: list[str] | None = Field(description="Channels the agent answers on; null = all")
    required_contact: RequiredContact = Field(
        description="What the agent asks a visitor for before booking, unless the channel "
        "already gave it (WhatsApp and SMS give the phone)"
    )
    require_verified_contact_on_webchat: bool = Field(
        description="Web chat: book only after the visitor proved their e-mail with a "
        "one-time code (a typed e-mail or phone is otherwise a claim)"
    )


class AgentSettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    greeting: str | None = Field(default=None, max_length=500)
    minutes_per_reply: int | None = Field(default=None, ge=0, le=120)
    channels: list[Channel] | None = Field(default=None, max_length=7)
    required_contact: RequiredContact | None = None
    require_verified_contact_on_webchat: bool | None = None


@router.get("/agent/settings", response_model=AgentSettingsRead)
async def get_agent_settings(principal: PrincipalDep, uow: UowDep) -> AgentSettingsRead:
    view = await read_agent_settings(uow, principal)
    return AgentSettingsRead(**_fields(view))


@router.patch("/agent/settings", response_model=AgentSettingsRead)
async def patch_agent_settings(
    body: AgentSettingsUpdate, principal: PrincipalDep, uow: UowDep
) -> AgentSettingsRead:
    """Partial: fields not sent keep their value; `"greeting": null` restores the built-in
    greeting and `"channels": null` means every channel. Takes effect on the next turn."""
    changes = {
        k: v
        for k, v in body.model_dump(exclude_unset=True).items()
        if v is not None or k in ("greeting", "channels")
    }
    view = await change_agent_settings(uow, principal, changes)
    return AgentSettingsRead(**_fields(view))


@router.post("/conversations/{conversation_id}/agent", response_model=ConversationRead)
async def hand_back_to_agent(
    conversation_id: uuid.UUID, principal: PrincipalDep, uow: UowDep
) -> ConversationRead:
    """The owner hands the conversation back to the agent (it had handed off, or the owner
    had replied): the agent answers the visitor's next message."""
    conversation = await resume_agent(uow, principal, conversation_id)
    return ConversationRead.model_validate(conversation)


def _fields(view: object) -> dict[str, object]:
    keys = (
        "enabled",
        "greeting",
        "minutes_per_reply",
        "channels",
        "required_contact",
        "require_verified_contact_on_webchat",
    )
    return {k: getattr(view, k) for k in keys}
