"""What a service's lifespan builds and tears down: engine, bus, relay, health checks."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy import Table, text

from shared.bus import Bus, consumers_alive
from shared.db.base import make_engine, make_sessionmaker
from shared.logging import configure_logging
from shared.relay import OutboxRelay
from shared.settings import DEFAULT_SECRET_KEY, ServiceSettings
from shared.web import health_router, install_common

log = logging.getLogger(__name__)


class Runtime:
    """One per app instance. Nothing connects until `start()`."""

    def __init__(self, settings: ServiceSettings, service: str, outbox: Table) -> None:
        self.settings = settings
        self.service = service
        self.engine = make_engine(
            settings.database_url, pool_size=settings.db_pool_size, application_name=service
        )
        self.sessionmaker = make_sessionmaker(self.engine)
        self.bus = Bus(settings, service)
        self.relay = OutboxRelay(
            self.engine,
            outbox,
            self.bus,
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
        )
        self.started = False

    async def start(self) -> None:
        if self.settings.secret_key == DEFAULT_SECRET_KEY:
            log.warning("SECRET_KEY is the development default; set it in production")
        await self.bus.start()
        if self.settings.run_relay:
            self.relay.start()
        self.started = True
        log.info("%s started", self.service)

    async def stop(self) -> None:
        """Relay finishes its batch, consumers finish their messages, then connections close."""
        if self.settings.run_relay:
            await self.relay.stop()
        await self.bus.stop()
        await self.engine.dispose()
        self.started = False
        log.info("%s stopped", self.service)

    async def database_ok(self) -> bool:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def broker_ok(self) -> bool:
        return bool(await self.bus.broker.ping(timeout=1.0))

    async def consumers_ok(self) -> bool:
        return await consumers_alive(self.bus.broker)

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
    configure_logging(runtime.service, settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        if on_startup is not None:
            await on_startup()
        try:
            yield
        finally:
            if on_shutdown is not None:
                await on_shutdown()
            await runtime.stop()

    app = FastAPI(
        title=title,
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json" if openapi else None,
        docs_url="/api/v1/docs" if openapi else None,
        redoc_url=None,
        exception_handlers=exception_handlers or {},
    )
    app.state.runtime = runtime
    app.include_router(health_router(runtime.checks))
    for router in routers:
        app.include_router(router, prefix="/api/v1")
    for middleware, options in middlewares:
        app.add_middleware(middleware, **options)
    install_common(app, runtime.service, settings.secret_key if internal_auth else None)
    return app
