from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from conversations.agent.loop import AgentRunner
from conversations.api import agent as agent_api
from conversations.api import (
    channel_accounts,
    contacts,
    conversations,
    events,
    messages,
    public,
    reminders,
)
from conversations.api.ratelimit import SlidingWindowLimiter, WebChatLimits
from conversations.bookings import BookingsReader
from conversations.connectors import Connectors
from conversations.db.models import outbox
from conversations.delivery.ownership import OwnershipChecker, ProviderAddresses
from conversations.delivery.service import Delivery
from conversations.domain.contacts import ContactMergeRefused, InvalidContactDetail
from conversations.domain.delivery import ReplyTooLong, ReplyWindowClosed
from conversations.domain.errors import (
    ChannelAccountNotFound,
    ChannelAccountTaken,
    ContactNotFound,
    ConversationNotFound,
    InvalidCredentials,
    InvalidRange,
    InvalidReply,
    InvalidVisitorToken,
    MessageNotFound,
    MessageNotRetryable,
    NoInboundSecret,
    NotAuthenticated,
    NoWorkspace,
    RateLimited,
    VisitorTaken,
    WorkspaceNotFound,
)
from conversations.domain.reminders import InvalidReminderSettings
from conversations.domain.rules import InvalidTag
from conversations.events import subscribers
from conversations.live.service import Live
from conversations.reminders.scheduler import ReminderScheduler
from conversations.settings import Settings
from conversations.usecases.channel_accounts import CredentialPolicy
from shared.crypto import Vault
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
    (ContactNotFound, 404),
    (InvalidContactDetail, 422),
    (ContactMergeRefused, 422),
    (ChannelAccountTaken, 409),
    (VisitorTaken, 409),
    (InvalidTag, 422),
    (InvalidReminderSettings, 422),
    (InvalidRange, 422),
    (InvalidCredentials, 422),
    (InvalidReply, 422),
    (ReplyTooLong, 422),
    (ReplyWindowClosed, 409),
    (MessageNotRetryable, 409),
    (NoInboundSecret, 409),
]


async def _rate_limited(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    return problem(429, str(exc), headers={"Retry-After": str(exc.retry_after)})


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    # FastAPI echoes the input by default; it may hold a token, so only say where and why.
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"type": e.get("type"), "loc": e.get("loc"), "msg": e.get("msg")} for e in exc.errors()
    ]
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(settings, "conversations", outbox)
    vault = Vault(settings.encryption_keys)
    delivery = Delivery(settings, runtime.sessionmaker, vault)
    # One client of the connectors service for the agent's calendar and the contact page.
    connectors = Connectors(
        settings.connectors_url,
        settings.token_key("connectors", "conversations"),
        settings.connectors_timeout_seconds,
    )
    agent = AgentRunner(runtime, settings, connectors=connectors)
    if settings.run_consumers:
        # AGENT_ENABLED=false: this replica leaves the agent's queue to replicas that run it.
        subscribers.register(runtime, agent if settings.agent_enabled else None)
        if settings.delivery_enabled:
            subscribers.register_delivery(runtime, delivery)
    # Every replica may run one: jobs are claimed FOR UPDATE SKIP LOCKED.
    scheduler = (
        ReminderScheduler(
            runtime.sessionmaker,
            poll_seconds=settings.reminder_poll_seconds,
            batch_size=settings.reminder_batch_size,
        )
        if settings.run_consumers and settings.reminders_enabled
        else None
    )
    if settings.run_consumers:
        subscribers.register_reminders(runtime, scheduler)
    handlers = exception_handlers(ERRORS) | {
        RateLimited: _rate_limited,
        RequestValidationError: _validation_error,
    }
    live = Live(settings)
    bookings_reader = BookingsReader(connectors, settings.contact_bookings_timeout_seconds)

    async def start() -> None:
        vault.warn_if_dev_key()
        await delivery.start(sweep=settings.run_consumers and settings.delivery_enabled)
        await live.start()
        if scheduler is not None:
            scheduler.start()

    async def stop() -> None:
        try:
            if scheduler is not None:
                await scheduler.stop()  # a batch in flight rolls back: its jobs stay due
            await live.stop()
        finally:
            try:
                await delivery.stop()
            finally:
                await connectors.close()

    app = create_service_app(
        runtime,
        title="Base Platform conversations",
        routers=[
            # Before `/conversations/{id}`, which would otherwise take "events" for an id.
            events.owner_router,
            events.public_router,
            agent_api.router,
            conversations.router,
            contacts.router,
            messages.router,
            reminders.router,
            channel_accounts.router,
            channel_accounts.internal_router,
            public.router,
        ],
        exception_handlers=handlers,
        on_startup=start,
        on_shutdown=stop,
    )
    app.state.live = live
    app.state.agent = agent
    app.state.delivery = delivery
    app.state.bookings_reader = bookings_reader
    app.state.reminders = scheduler
    app.state.credential_policy = CredentialPolicy(
        vault,
        settings.callback_allow_loopback_http,
        OwnershipChecker(
            delivery.client,
            ProviderAddresses(
                settings.graph_api_base_url,
                settings.graph_api_version,
                settings.twilio_api_base_url,
                settings.delivery_timeout_seconds,
            ),
        ),
    )
    app.state.owner_reply_limit = SlidingWindowLimiter(
        settings.owner_replies_per_workspace_per_minute, 60.0
    )
    app.state.webchat_limits = WebChatLimits(
        settings.webchat_per_visitor,
        settings.webchat_per_address,
        settings.webchat_window_seconds,
        typing_per_visitor=settings.webchat_typing_per_visitor,
        typing_per_address=settings.webchat_typing_per_address,
    )
    return app
