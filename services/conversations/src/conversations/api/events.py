"""Live streams (Server-Sent Events): a visitor's conversation and an owner's inbox.

Each event carries `id: <change number>` (the workspace's `live_seq`, in commit order), so a
browser's EventSource resumes with `Last-Event-ID` and misses nothing. Events are upserts: the
row as it is now (`message`, `conversation`), never a diff. The first event, `ready`, says
where the stream starts; comment lines keep idle connections open.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Receive, Scope, Send

from conversations.api.deps import SettingsDep, UowDep
from conversations.api.public import _authorize
from conversations.api.schemas import ConversationRead, MessageRead, VisitorMessageRead
from conversations.domain.errors import ConversationNotFound, InvalidVisitorToken
from conversations.live.hub import Hub, Subscription, TooManyStreams
from conversations.live.service import Live
from conversations.live.streams import (
    Change,
    Fetch,
    conversation_changes,
    follow,
    workspace_changes,
    workspace_seq,
)
from conversations.settings import Settings
from conversations.usecases.access import owner_workspace
from shared.web import PrincipalDep, problem

public_router = APIRouter(prefix="/public", tags=["web chat"])
owner_router = APIRouter(prefix="/conversations", tags=["conversations"])

STREAM_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/event-stream": {}}, "description": "An endless event stream"},
    429: {"description": "Too many open streams for this visitor or owner"},
    503: {"description": "This server has no room for another stream"},
}


class VisitorMessageEvent(VisitorMessageRead):
    delivery_status: str | None = None


def _cursor(header: str | None, query: str | None) -> int | None:
    raw = header if header is not None else query
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise ValueError(raw)
    return int(raw)


def _bad_cursor() -> JSONResponse:
    return problem(422, "Last-Event-ID must be an id this stream sent (a non-negative integer)")


def _busy(exc: TooManyStreams) -> JSONResponse:
    return problem(429 if exc.per_client else 503, str(exc), headers={"Retry-After": "5"})


class _LiveResponse(EventSourceResponse):
    """Gives the stream's slot back to the hub however the response ends (done, client gone,
    shutdown, an error), even if the body never started."""

    def __init__(
        self, content: AsyncIterator[ServerSentEvent], hub: Hub, sub: Subscription, **kw: Any
    ) -> None:
        super().__init__(content, **kw)
        self._hub, self._subscription = hub, sub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._hub.release(self._subscription)


def _stream(
    settings: Settings,
    hub: Hub,
    subscription: Subscription,
    fetch: Fetch,
    start: int,
    render: type[BaseModel] | None,
) -> EventSourceResponse:
    async def events() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(event="ready", id=str(start), data=f'{{"last_event_id":{start}}}')
        changes = follow(
            fetch, subscription, start, settings.live_poll_seconds, settings.live_max_stream_seconds
        )
        async for change in changes:
            yield _event(change, render)

    return _LiveResponse(
        events(),
        hub,
        subscription,
        ping=settings.live_ping_seconds,
        send_timeout=30,
        headers={"Cache-Control": "no-store"},
    )


def _event(change: Change, render: type[BaseModel] | None) -> ServerSentEvent:
    if render is not None:
        data = render.model_validate(change.row).model_dump_json()
    elif change.kind == "message":
        data = MessageRead.model_validate(change.row).model_dump_json()
    else:
        data = ConversationRead.model_validate(change.row).model_dump_json()
    return ServerSentEvent(event=change.kind, id=str(change.seq), data=data)


def _live(request: Request) -> Live:
    live: Live = request.app.state.live
    return live


@public_router.get(
    "/conversations/{conversation_id}/events",
    response_class=EventSourceResponse,
    response_model=None,
    responses=STREAM_RESPONSES,
    summary="Live messages of a web chat conversation",
)
async def visitor_events(
    conversation_id: uuid.UUID,
    request: Request,
    uow: UowDep,
    settings: SettingsDep,
    x_visitor_token: Annotated[str | None, Header(alias="X-Visitor-Token")] = None,
    token: Annotated[
        str | None, Query(description="The visitor token, for EventSource (no headers)")
    ] = None,
    visitor_token: Annotated[str | None, Cookie()] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[str | None, Query(alias="last_event_id")] = None,
) -> JSONResponse | EventSourceResponse:
    """Every message of the conversation (from the start, or after `Last-Event-ID`), then
    each new message and delivery-status change as it commits. The visitor token may come as
    the `X-Visitor-Token` header, a `token` query parameter or a `visitor_token` cookie."""
    credential = x_visitor_token or token or visitor_token
    if not credential:
        raise InvalidVisitorToken("A visitor token is required (X-Visitor-Token or ?token=)")
    _authorize(settings, credential, conversation_id)
    try:
        start = _cursor(last_event_id, after) or 0
    except ValueError:
        return _bad_cursor()
    async with uow:
        if await uow.conversations.get_any(conversation_id) is None:
            raise ConversationNotFound("Conversation not found")
    hub = _live(request).hub
    sessions = request.app.state.runtime.sessionmaker
    try:
        subscription = hub.open(conversation_id, f"visitor:{conversation_id}")
    except TooManyStreams as exc:
        return _busy(exc)

    async def fetch(after: int) -> list[Change]:
        return await conversation_changes(sessions, conversation_id, after)

    return _stream(settings, hub, subscription, fetch, start, VisitorMessageEvent)


@owner_router.get(
    "/events",
    response_class=EventSourceResponse,
    response_model=None,
    responses=STREAM_RESPONSES,
    summary="Live changes of the owner's inbox",
)
async def owner_events(
    request: Request,
    principal: PrincipalDep,
    uow: UowDep,
    settings: SettingsDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[str | None, Query(alias="last_event_id")] = None,
) -> JSONResponse | EventSourceResponse:
    """New conversations and status changes (`conversation`), new messages and delivery
    changes (`message`) of the caller's workspace, after `Last-Event-ID` or from now on."""
    try:
        cursor = _cursor(last_event_id, after)
    except ValueError:
        return _bad_cursor()
    async with uow:
        workspace = await owner_workspace(uow, principal)
    sessions = request.app.state.runtime.sessionmaker
    start = cursor if cursor is not None else await workspace_seq(sessions, workspace.id)
    hub = _live(request).hub
    try:
        subscription = hub.open(workspace.id, f"owner:{principal.user_id}")
    except TooManyStreams as exc:
        return _busy(exc)

    async def fetch(after: int) -> list[Change]:
        return await workspace_changes(sessions, workspace.id, after)

    return _stream(settings, hub, subscription, fetch, start, None)
