from fastapi import FastAPI

from shared.runtime import Runtime, create_service_app
from workspaces.db.models import outbox
from workspaces.events import subscribers
from workspaces.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(settings, "workspaces", outbox)
    if settings.run_consumers:
        subscribers.register(runtime)
    return create_service_app(runtime, title="Base Platform workspaces", routers=[])
