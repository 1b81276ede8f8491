from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from conversations.api import channel_accounts, conversations, events, messages, public
from conversations.api.ratelimit import WebChatLimits
from conversations.db.models import outbox
from conversations.domain.errors import (
    ChannelAccountNotFound,
    ChannelAccountTaken,
    ConversationNotFound,
    InvalidRange,
    InvalidVisitorToken,
    MessageNotFound,
    NotAuthenticated,
    NoWorkspace,
    RateLimited,
    VisitorTaken,
    WorkspaceNotFound,
)
from conversations.domain.rules import InvalidTag
from conversations.events import subscribers
from conversations.live.service import Live
from conversations.settings import Settings
from shared.runtime import Runtime, create_service_app
from shared.web import exception_handlers, problem

ERRORS = [
    (NotAuthenticated, 401),
    (InvalidVisitorToken, 401),
    (NoWorkspace, 404),
    (WorkspaceNotFound, 404),
    (ConversationNotFound, 404),
    (MessageNotFound, 404),
    (ChannelAccountNotFound, 404),
    (ChannelAccountTaken, 409),
    (VisitorTaken, 409),
    (InvalidTag, 422),
    (InvalidRange, 422),
]


async def _rate_limited(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    return problem(429, str(exc), headers={"Retry-After": str(exc.retry_after)})


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(settings, "conversations", outbox)
    if settings.run_consumers:
        subscribers.register(runtime)
    handlers = exception_handlers(ERRORS) | {RateLimited: _rate_limited}
    live = Live(settings)
    app = create_service_app(
        runtime,
        title="Base Platform conversations",
        routers=[
            # Before `/conversations/{id}`, which would otherwise take "events" for an id.
            events.owner_router,
            events.public_router,
            conversations.router,
            messages.router,
            channel_accounts.router,
            public.router,
        ],
        exception_handlers=handlers,
        on_startup=live.start,
        on_shutdown=live.stop,
    )
    app.state.live = live
    app.state.webchat_limits = WebChatLimits(
        settings.webchat_per_visitor, settings.webchat_per_address, settings.webchat_window_seconds
    )
    return app
