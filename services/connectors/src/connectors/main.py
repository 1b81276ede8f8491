from fastapi import FastAPI

from connectors.db.models import outbox
from connectors.events import subscribers
from connectors.settings import Settings
from shared.runtime import Runtime, create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(settings, "connectors", outbox)
    if settings.run_consumers:
        subscribers.register(runtime)
    return create_service_app(runtime, title="Base Platform connectors", routers=[])
