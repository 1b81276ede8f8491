from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from conversations.api.deps import UowDep
from conversations.api.schemas import MessageCreate, MessageRead
from conversations.domain.errors import ConversationNotFound, MessageNotFound
from conversations.usecases.access import owner_workspace
from conversations.usecases.messages import delete_message, post_owner_message
from shared.web import Page, PaginationDep, PrincipalDep

router = APIRouter(prefix="/messages", tags=["messages"])


@router.get("/", response_model=Page[MessageRead])
async def list_messages(
    conversation_id: uuid.UUID, principal: PrincipalDep, uow: UowDep, page: PaginationDep
) -> Page[MessageRead]:
    """A conversation's messages in provider time order (`sent_at`, then id)."""
    async with uow:
        workspace = await owner_workspace(uow, principal)
        if await uow.conversations.get(workspace.id, conversation_id) is None:
            raise ConversationNotFound("Conversation not found")
        rows, count = await uow.messages.page(conversation_id, page.skip, page.limit)
        return Page(data=[MessageRead.model_validate(r) for r in rows], count=count)


@router.post("/", status_code=status.HTTP_201_CREATED, response_model=MessageRead)
async def create_message(body: MessageCreate, principal: PrincipalDep, uow: UowDep) -> MessageRead:
    """An owner's reply (or the agent's, `role="agent"`, which adds to time saved)."""
    message = await post_owner_message(
        uow, principal, body.conversation_id, body.content, body.role, body.sent_at
    )
    return MessageRead.model_validate(message)


@router.get("/{message_id}", response_model=MessageRead)
async def read_message(message_id: uuid.UUID, principal: PrincipalDep, uow: UowDep) -> MessageRead:
    async with uow:
        workspace = await owner_workspace(uow, principal)
        message = await uow.messages.get(workspace.id, message_id)
        if message is None:
            raise MessageNotFound("Message not found")
        return MessageRead.model_validate(message)


@router.delete("/{message_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_message(message_id: uuid.UUID, principal: PrincipalDep, uow: UowDep) -> None:
    await delete_message(uow, principal, message_id)
