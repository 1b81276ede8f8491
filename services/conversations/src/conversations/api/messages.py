from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status

from conversations.api.deps import UowDep
from conversations.api.ratelimit import SlidingWindowLimiter
from conversations.api.schemas import MessageCreate, MessageRead
from conversations.domain.errors import ConversationNotFound, MessageNotFound, RateLimited
from conversations.usecases.access import owner_workspace
from conversations.usecases.messages import delete_message, post_owner_message, retry_message
from shared.tokens import Principal
from shared.web import Page, PaginationDep, PrincipalDep

router = APIRouter(prefix="/messages", tags=["messages"])


def _count_owner_reply(request: Request, principal: Principal) -> None:
    """Owner replies per workspace (one per owner) per minute, so one business cannot flood
    the delivery every other business shares; 429 beyond, with Retry-After."""
    limiter: SlidingWindowLimiter = request.app.state.owner_reply_limit
    try:
        limiter.hit(str(principal.user_id))
    except RateLimited as exc:
        raise RateLimited(
            exc.retry_after,
            f"Too many replies from this workspace: at most {limiter.limit} a minute; try "
            f"again in {exc.retry_after} s",
        ) from None


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
async def create_message(
    body: MessageCreate, principal: PrincipalDep, uow: UowDep, request: Request
) -> MessageRead:
    """The owner's reply, sent to the visitor on the conversation's channel; answers
    `delivery_status: "pending"`, then reads show it move (sent, delivered, read, failed).

    409 outside the channel's messaging window (WhatsApp, Messenger, Instagram: 24 h after
    the visitor's last message; an owner's Messenger/Instagram reply up to 7 days, tagged
    HUMAN_AGENT; a WhatsApp `template` at any time). A reply longer than the channel
    carries is split at word boundaries into several messages: the answer is the first,
    `metadata.parts` says how many, and the others follow it in the conversation.

    429 beyond OWNER_REPLIES_PER_WORKSPACE_PER_MINUTE (retries count too).
    """
    _count_owner_reply(request, principal)
    template = body.template.model_dump() if body.template is not None else None
    messages = await post_owner_message(
        uow, principal, body.conversation_id, body.content, template
    )
    return MessageRead.model_validate(messages[0])


@router.post("/{message_id}/retry", response_model=MessageRead)
async def retry(
    message_id: uuid.UUID, principal: PrincipalDep, uow: UowDep, request: Request
) -> MessageRead:
    """Send a `failed` reply, or one whose outcome is `unknown`, again (409 otherwise). An
    unknown one may already have reached the visitor: retrying it is your decision."""
    _count_owner_reply(request, principal)
    return MessageRead.model_validate(await retry_message(uow, principal, message_id))


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
