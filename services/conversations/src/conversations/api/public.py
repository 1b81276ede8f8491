"""Web chat, public (forwarded by the gateway as an anonymous principal).

A visitor opens a conversation on a workspace's page and gets a token bound to that
conversation; with it (header `X-Visitor-Token`) they post and read its messages and say
when they are typing. Writes are rate limited per visitor and per client address (in memory,
per process; see `api/ratelimit.py`).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status

from conversations.api.deps import SettingsDep, UowDep
from conversations.api.ratelimit import WebChatLimits
from conversations.api.schemas import (
    VisitorMessageCreate,
    VisitorMessageRead,
    WebConversationCreate,
    WebConversationOpened,
)
from conversations.api.visitor_tokens import issue_visitor_token, visitor_conversation
from conversations.domain.errors import ConversationNotFound, InvalidVisitorToken
from conversations.settings import Settings
from conversations.usecases.webchat import (
    note_visitor_typing,
    open_web_conversation,
    post_visitor_message,
)
from shared.web import Page, PaginationDep

router = APIRouter(prefix="/public", tags=["web chat"])

VisitorTokenHeader = Annotated[
    str | None, Header(alias="X-Visitor-Token", description="From opening the conversation")
]


def _limits(request: Request) -> WebChatLimits:
    limits: WebChatLimits = request.app.state.webchat_limits
    return limits


def client_address(request: Request) -> str:
    """The gateway sets X-Forwarded-For; its rightmost entry is the one it saw itself."""
    forwarded = request.headers.get("x-forwarded-for", "")
    if forwarded.strip():
        return forwarded.split(",")[-1].strip()
    return request.client.host if request.client else "unknown"


def _authorize(settings: Settings, token: str | None, conversation_id: uuid.UUID) -> None:
    """Missing or forged token: 401. A valid token for another conversation: 404."""
    if not token:
        raise InvalidVisitorToken("X-Visitor-Token header required")
    if visitor_conversation(settings.visitor_token_secret, token) != conversation_id:
        raise ConversationNotFound("Conversation not found")


@router.post(
    "/workspaces/{handle}/conversations",
    status_code=status.HTTP_201_CREATED,
    response_model=WebConversationOpened,
)
async def open_conversation(
    handle: str,
    request: Request,
    uow: UowDep,
    settings: SettingsDep,
    body: WebConversationCreate | None = None,
) -> WebConversationOpened:
    address = client_address(request)
    _limits(request).address.hit(address)
    body = body or WebConversationCreate()
    conversation = await open_web_conversation(
        uow,
        handle,
        body.visitor_name,
        body.visitor_contact,
        visitor_email=body.visitor_email,
        visitor_phone=body.visitor_phone,
        client_address=address,
    )
    token = issue_visitor_token(
        settings.visitor_token_secret, conversation.id, settings.visitor_token_ttl_seconds
    )
    return WebConversationOpened(conversation_id=conversation.id, visitor_token=token)


@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=VisitorMessageRead,
)
async def post_message(
    conversation_id: uuid.UUID,
    body: VisitorMessageCreate,
    request: Request,
    uow: UowDep,
    settings: SettingsDep,
    x_visitor_token: VisitorTokenHeader = None,
) -> VisitorMessageRead:
    _authorize(settings, x_visitor_token, conversation_id)
    limits = _limits(request)
    limits.visitor.hit(str(conversation_id))
    limits.address.hit(client_address(request))
    message = await post_visitor_message(uow, conversation_id, body.content)
    return VisitorMessageRead.model_validate(message)


@router.post(
    "/conversations/{conversation_id}/typing",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
async def visitor_typing(
    conversation_id: uuid.UUID,
    request: Request,
    uow: UowDep,
    settings: SettingsDep,
    x_visitor_token: VisitorTokenHeader = None,
) -> Response:
    """The visitor is typing; no body. Send about every 2 s while they type: the agent holds
    its answer while these keep coming, and answers at once otherwise."""
    _authorize(settings, x_visitor_token, conversation_id)
    limits = _limits(request)
    limits.typing_visitor.hit(str(conversation_id))
    limits.typing_address.hit(client_address(request))
    await note_visitor_typing(uow, conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/conversations/{conversation_id}/messages", response_model=Page[VisitorMessageRead])
async def read_messages(
    conversation_id: uuid.UUID,
    uow: UowDep,
    settings: SettingsDep,
    page: PaginationDep,
    x_visitor_token: VisitorTokenHeader = None,
) -> Page[VisitorMessageRead]:
    _authorize(settings, x_visitor_token, conversation_id)
    async with uow:
        conversation = await uow.conversations.get_any(conversation_id)
        if conversation is None:
            raise ConversationNotFound("Conversation not found")
        rows, count = await uow.messages.page(conversation_id, page.skip, page.limit)
        return Page(data=[VisitorMessageRead.model_validate(r) for r in rows], count=count)
