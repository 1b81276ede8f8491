"""What a service's lifespan builds and tears down: engine, bus, relay, health checks."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI
from faststream import BaseMiddleware
from faststream.message import StreamMessage
from sqlalchemy import Table

from shared import memory, telemetry
from shared.asyncapi import service_document
from shared.bus import Bus
from shared.consuming import EVENTS_CONSUMED
from shared.db.base import make_engine, make_sessionmaker
from shared.events import registered_events, routing_key
from shared.logging import configure_logging, event_id_var
from shared.relay import PUBLISH_FAILURES, OutboxRelay
from shared.settings import DEFAULT_SECRET_KEY, ServiceSettings, plain_database_url
from shared.tracing import traceparent_var
from shared.web import fastapi_telemetry, health_router, install_common

log = logging.getLogger(__name__)
consumed_log = logging.getLogger("consumer")
OUTCOMES = ("ok", "failed", "dead_lettered")


class ConsumeLogMiddleware(BaseMiddleware[Any, Any]):
    """One log line per consumed message, like the access log of a request.

    Runs around the handler, in the message's own context (event id = message id, trace from
    the `traceparent` header), so the line joins the trace of the request that caused it.
    """

    async def consume_scope(
        self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        headers = msg.headers or {}
        event_token = event_id_var.set(msg.message_id or None)
        trace_token = traceparent_var.set(telemetry.continued(headers.get("traceparent")))
        started = time.perf_counter()
        outcome = "failed"
        try:
            result = await call_next(msg)
            outcome = "ok"
            return result
        finally:
            consumed_log.info(
                "consumed %s",
                headers.get("event_type") or "message",
                extra={
                    "event_type": headers.get("event_type"),
                    "outcome": outcome,
                    "redelivered": bool(getattr(msg.raw_message, "redelivered", False)),
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            event_id_var.reset(event_token)
            traceparent_var.reset(trace_token)


class Runtime:
    """One per app instance. Nothing connects until `start()`."""

    def __init__(self, settings: ServiceSettings, service: str, outbox: Table) -> None:
        self.settings = settings
        self.service = service
        telemetry.configure(
            service,
            settings.otel_exporter_otlp_endpoint,
            service_name=settings.otel_service_name,
            sampler_name=settings.otel_traces_sampler,
            sampler_arg=settings.otel_traces_sampler_arg,
        )
        self.engine = make_engine(
            settings.database_url, pool_size=settings.db_pool_size, application_name=service
        )
        telemetry.instrument_engine(self.engine)
        self.sessionmaker = make_sessionmaker(self.engine)
        self.bus = Bus(settings, service)
        self.bus.broker.add_middleware(ConsumeLogMiddleware)
        telemetry.instrument_broker(self.bus.broker)
        self.relay = OutboxRelay(
            self.engine,
            outbox,
            self.bus,
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
        )
        self.started = False

    async def start(self) -> None:
        settings = self.settings
        # A service given its INTERNAL_TOKEN_KEY uses no SECRET_KEY (shared.tokens).
        if settings.secret_key == DEFAULT_SECRET_KEY and not settings.internal_token_key:
            log.warning("SECRET_KEY is the development default; set it in production")
        defaults = sorted(
            name.upper()
            for name in type(settings).model_fields
            if name.endswith("token_key") and getattr(settings, name).startswith("change-me")
        )
        if defaults:
            log.warning(
                "%s: development defaults; set them in production (python -m shared.tokens)",
                ", ".join(defaults),
            )
        self._expose_metrics()
        await self.bus.start()
        if self.settings.run_relay:
            self.relay.start()
        self.started = True
        log.info("%s started", self.service, extra={"tracing": telemetry.tracer() is not None})

    async def stop(self) -> None:
        """Relay finishes its batch, consumers finish their messages, then connections close.

        Called once the web server has stopped accepting and has drained its requests, so
        whatever those requests wrote to the outbox is already committed.
        """
        started = time.perf_counter()
        try:
            if self.settings.run_relay:
                await self.relay.stop()
                log.info("outbox relay stopped after its current batch")
        finally:
            try:
                await self.bus.stop()  # consumers finish their messages (graceful_timeout)
            finally:
                await self.engine.dispose()
                telemetry.flush()
        self.started = False
        log.info(
            "%s stopped",
            self.service,
            extra={"duration_ms": round((time.perf_counter() - started) * 1000, 2)},
        )

    def _expose_metrics(self) -> None:
        """Zero-valued series for what this service can report, so dashboards and alerts see
        "no failures" rather than "no data" before the first one happens."""
        types = {routing_key(event): event.TYPE for event in registered_events()}
        for subscriber in self.bus.broker.subscribers:
            queue = getattr(subscriber, "queue", None)
            event_type = types.get(getattr(queue, "routing_key", None) or "")
            if event_type is not None:
                for outcome in OUTCOMES:
                    EVENTS_CONSUMED.labels(self.service, event_type, outcome)
        for batches in self.bus.queue_consumers:
            for outcome in OUTCOMES:
                EVENTS_CONSUMED.labels(self.service, batches.event_type, outcome)
        if self.settings.run_relay:
            PUBLISH_FAILURES.labels(self.service)

    async def database_ok(self) -> bool:
        """A connection of its own, not one from the pool: consumers working through a
        backlog may hold every pooled connection, and that is not "database down"."""
        conn = await asyncpg.connect(plain_database_url(self.settings.database_url), timeout=2)
        try:
            await conn.fetchval("SELECT 1", timeout=2)
        finally:
            await conn.close(timeout=2)
        return True

    async def broker_ok(self) -> bool:
        return bool(await self.bus.broker.ping(timeout=1.0))

    async def consumers_ok(self) -> bool:
        return await self.bus.consumers_alive()

    def checks(self) -> dict[str, Any]:
        return {
            "database": self.database_ok,
            "broker": self.broker_ok,
            "consumers": self.consumers_ok,
        }


def create_service_app(
    runtime: Runtime,
    *,
    title: str,
    routers: Iterable[APIRouter],
    exception_handlers: dict[Any, Any] | None = None,
    internal_auth: bool = True,
    on_startup: Callable[[], Any] | None = None,
    on_shutdown: Callable[[], Any] | None = None,
    openapi: bool = True,
    middlewares: Iterable[tuple[Any, dict[str, Any]]] = (),
) -> FastAPI:
    settings = runtime.settings
    configure_logging(runtime.service, settings.log_level, settings.resolved_log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        if on_startup is not None:
            await on_startup()
        memory.freeze_startup_heap()  # last: what exists now lives as long as the process
        try:
            yield
        finally:
            # Reached after uvicorn has stopped accepting and drained in-flight requests.
            try:
                if on_shutdown is not None:
                    await on_shutdown()
            finally:
                await runtime.stop()

    app = FastAPI(
        title=title,
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json" if openapi else None,
        docs_url="/api/v1/docs" if openapi else None,
        redoc_url=None,
        exception_handlers=exception_handlers or {},
        telemetry=fastapi_telemetry(),
    )
    app.state.runtime = runtime
    app.include_router(health_router(runtime.checks, settings.metrics_token))
    if openapi:
        app.include_router(asyncapi_router(runtime))
    for router in routers:
        app.include_router(router, prefix="/api/v1")
    for middleware, options in middlewares:
        app.add_middleware(middleware, **options)
    own_key = settings.token_key(runtime.service, runtime.service)
    install_common(app, runtime.service, own_key if internal_auth else None)
    return app


def asyncapi_router(runtime: Runtime) -> APIRouter:
    """This service's AsyncAPI document; the gateway merges them into one."""
    router = APIRouter()
    cached: list[dict[str, Any]] = []

    @router.get("/api/v1/asyncapi.json", include_in_schema=False)
    async def asyncapi() -> dict[str, Any]:
        if not cached:  # subscribers are all registered before the app serves
            cached.append(service_document(runtime.bus))
        return cached[0]

    return router


def served(app: FastAPI) -> FastAPI:
    """`app` as a server process serves it: with the read-your-writes workspace lookup.

    Called by each service's server factory (`<service>.__main__:served_app`) in the process
    that serves the app, so every uvicorn worker installs its own. In-process tests build
    apps with `create_app()` alone and keep a miss a miss.
    """
    from shared import workspace_lookup

    settings = app.state.runtime.settings
    workspace_lookup.install(
        workspace_lookup.WorkspaceLookup(
            settings.workspaces_url, settings.token_key("workspaces", app.state.runtime.service)
        )
    )
    return app
