from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status

from conversations.api.deps import UowDep
from conversations.api.schemas import (
    ConversationCreate,
    ConversationRead,
    ConversationUpdate,
    StatsRead,
)
from conversations.db.repositories import ConversationFilter
from conversations.domain.errors import ConversationNotFound
from conversations.domain.rules import Channel, Status
from conversations.usecases.access import owner_workspace
from conversations.usecases.conversations import (
    ConversationChanges,
    NewConversation,
    delete_conversation,
    record_conversation,
    update_conversation,
)
from conversations.usecases.stats import conversation_stats
from shared.instants import Instant
from shared.web import Page, PaginationDep, PrincipalDep

router = APIRouter(prefix="/conversations", tags=["conversations"])


@router.get("/", response_model=Page[ConversationRead])
async def list_conversations(
    principal: PrincipalDep,
    uow: UowDep,
    page: PaginationDep,
    channel: Channel | None = None,
    status: Status | None = None,
    tag: Annotated[str | None, Query(max_length=32)] = None,
    start: Annotated[Instant | None, Query(description="Active at or after this instant")] = None,
    end: Annotated[Instant | None, Query(description="Started before this instant")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Text in its messages")
    ] = None,
) -> Page[ConversationRead]:
    """The caller's conversations, newest activity first.

    The date range keeps the conversations active in it: started before `end` and with a
    last message (or start) at or after `start`.
    """
    f = ConversationFilter(
        channel=channel,
        status=status,
        tag=tag.strip().lower() if tag else None,
        start=start,
        end=end,
        text=q,
    )
    async with uow:
        workspace = await owner_workspace(uow, principal)
        rows, count = await uow.conversations.page(workspace.id, f, page.skip, page.limit)
        return Page(data=[ConversationRead.model_validate(r) for r in rows], count=count)


@router.post("/", status_code=status.HTTP_201_CREATED, response_model=ConversationRead)
async def create_conversation(
    body: ConversationCreate, principal: PrincipalDep, uow: UowDep
) -> ConversationRead:
    """Record a conversation held outside the platform (a phone call, a visit...)."""
    conversation = await record_conversation(uow, principal, NewConversation(**body.model_dump()))
    return ConversationRead.model_validate(conversation)


@router.get("/stats", response_model=StatsRead)
async def read_stats(
    principal: PrincipalDep,
    uow: UowDep,
    start: Annotated[date | None, Query(description="First local day (default: end - 29)")] = None,
    end: Annotated[
        date | None, Query(description="Last local day, inclusive (default: today)")
    ] = None,
) -> StatsRead:
    """Conversations and messages by channel, status and tag, first response time, time saved.

    Days are the workspace's local days. Time saved: 120 s per agent message (the time an
    owner would spend reading and answering by hand), or the value the owner set on the
    conversation; it counts on the day the conversation started.
    """
    return StatsRead.model_validate(await conversation_stats(uow, principal, start, end))


@router.get("/{conversation_id}", response_model=ConversationRead)
async def read_conversation(
    conversation_id: uuid.UUID, principal: PrincipalDep, uow: UowDep
) -> ConversationRead:
    async with uow:
        workspace = await owner_workspace(uow, principal)
        conversation = await uow.conversations.get(workspace.id, conversation_id)
        if conversation is None:
            raise ConversationNotFound("Conversation not found")
        return ConversationRead.model_validate(conversation)


@router.patch("/{conversation_id}", response_model=ConversationRead)
async def patch_conversation(
    conversation_id: uuid.UUID, body: ConversationUpdate, principal: PrincipalDep, uow: UowDep
) -> ConversationRead:
    """Change status, tags (replaced as a set) or time saved (an owner's correction)."""
    changes = ConversationChanges(**body.model_dump(exclude_unset=True))
    conversation = await update_conversation(uow, principal, conversation_id, changes)
    return ConversationRead.model_validate(conversation)


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_conversation(
    conversation_id: uuid.UUID, principal: PrincipalDep, uow: UowDep
) -> None:
    await delete_conversation(uow, principal, conversation_id)
