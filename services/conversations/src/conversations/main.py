from fastapi import FastAPI

from conversations.db.models import outbox
from conversations.events import subscribers
from conversations.settings import Settings
from shared.runtime import Runtime, create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(settings, "conversations", outbox)
    if settings.run_consumers:
        subscribers.register(runtime)
    return create_service_app(runtime, title="Base Platform conversations", routers=[])
