from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from connectors.api import active, connectors, webhooks
from connectors.api.deps import Services
from connectors.api.errors import handlers
from connectors.db.models import outbox
from connectors.db.uow import ConnectorsUnitOfWork
from connectors.events import subscribers
from connectors.providers import ProviderFactory, http_client
from connectors.settings import Settings
from shared.crypto import Vault
from shared.runtime import Runtime, create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(settings, "connectors", outbox)
    if settings.run_consumers:
        subscribers.register(runtime)
    services = Services(
        settings=settings,
        runtime=runtime,
        vault=Vault(settings.encryption_keys),
        providers=ProviderFactory(
            settings, http_client(), lambda: ConnectorsUnitOfWork(runtime.sessionmaker)
        ),
    )

    async def on_startup() -> None:
        services.vault.warn_if_dev_key()

    app = create_service_app(
        runtime,
        title="Base Platform connectors",
        # /connectors/active/... before /connectors/{id}, which would claim "active".
        routers=[active.router, connectors.router, webhooks.router],
        exception_handlers=handlers(),
        on_startup=on_startup,
    )
    app.state.services = services
    serve = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with serve(app):
                yield
        finally:
            await services.providers.aclose()

    app.router.lifespan_context = lifespan
    return app
