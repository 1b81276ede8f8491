from __future__ import annotations

import logging

import httpx
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from gateway import chat
from gateway.api import errors, login, users
from gateway.api.deps import CallerCache
from gateway.db.models import outbox
from gateway.db.uow import IdentityUnitOfWork
from gateway.emails import EmailSender
from gateway.events import notifications, owner_mail
from gateway.proxy import asyncapi, forward
from gateway.proxy.forward import Forwarder
from gateway.proxy.inputs import TextInputMiddleware
from gateway.proxy.limits import BodySizeLimitMiddleware
from gateway.proxy.openapi import MergedOpenAPI
from gateway.security import PasswordHasher, TokenIssuer
from gateway.settings import Settings
from gateway.usecases.users import ensure_first_superuser
from gateway.webhooks import api as webhooks
from gateway.webhooks.accounts import InboundSecrets
from gateway.webhooks.fastpath import WebhookFastPath
from shared import telemetry
from shared.runtime import Runtime, create_service_app
from shared.tokens import ANONYMOUS

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
    webhook_fast_path: bool | None = None,
) -> FastAPI:
    """`webhook_fast_path`: webhooks past the layers they do not need (gateway.webhooks.
    fastpath); by default on unless tracing is, since FastAPI's spans come from those layers."""
    settings = settings or Settings()
    runtime = Runtime(settings, "gateway", outbox)
    if webhook_fast_path is None:
        webhook_fast_path = telemetry.provider() is None
    hasher = PasswordHasher(
        settings.argon2_memory_kib,
        settings.argon2_time_cost,
        settings.argon2_parallelism,
        settings.password_hash_workers,
    )
    forwarder = Forwarder(settings, transport=upstream_transport)
    telemetry.instrument_client(forwarder.client)  # a client span per forwarded call

    async def startup() -> None:
        created = await ensure_first_superuser(
            IdentityUnitOfWork(runtime.sessionmaker),
            hasher,
            settings.first_superuser,
            settings.first_superuser_password,
        )
        if created:
            log.info("first superuser created", extra={"email": settings.first_superuser})

    async def shutdown() -> None:
        await forwarder.close()
        hasher.close()

    app = create_service_app(
        runtime,
        title="Base Platform API",
        routers=[login.router, users.router, webhooks.router],
        exception_handlers=errors.handlers(),
        internal_auth=False,
        on_startup=startup,
        on_shutdown=shutdown,
        openapi=False,
        # Later entries wrap earlier ones: the size limit applies before text is inspected,
        # and webhooks leave before either (the fast path does both its own way).
        middlewares=[
            (TextInputMiddleware, {}),
            (BodySizeLimitMiddleware, {"max_bytes": settings.max_body_bytes}),
            *(
                [(WebhookFastPath, {"max_bytes": settings.max_body_bytes})]
                if webhook_fast_path
                else []
            ),
        ],
    )
    app.state.settings = settings
    app.state.hasher = hasher
    app.state.tokens = TokenIssuer(
        settings.secret_key,
        settings.access_token_expire_minutes,
        settings.reset_token_expire_minutes,
        settings.email_change_token_expire_minutes,
    )
    app.state.emails = EmailSender(settings)
    if settings.run_consumers:
        owner_mail.register(runtime, app.state.emails)
        notifications.register(runtime, app.state.emails)
    app.state.callers = CallerCache()
    app.state.forwarder = forwarder
    app.state.inbound_secrets = InboundSecrets(
        forwarder.client,
        settings.conversations_url,
        lambda: forwarder.token("conversations", ANONYMOUS),
        settings.inbound_secret_cache_seconds,
    )
    docs = MergedOpenAPI(app, forwarder)

    @app.get("/api/v1/openapi.json", include_in_schema=False)
    async def openapi(_: Request) -> JSONResponse:
        return JSONResponse(await docs.document())

    @app.get("/api/v1/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/api/v1/openapi.json", title="Base Platform API")

    app.include_router(asyncapi.router(asyncapi.MergedAsyncAPI(runtime.bus, forwarder)))

    app.include_router(chat.router)  # the web chat page, /chat/{handle}
    # Last: everything not answered above is forwarded to the service that owns it.
    app.include_router(forward.router)
    return app
