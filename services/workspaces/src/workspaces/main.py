from fastapi import FastAPI

from shared.runtime import Runtime, create_service_app
from shared.web import exception_handlers
from workspaces.api import internal, public, services, workspaces
from workspaces.db.models import outbox
from workspaces.domain.errors import (
    HandleTaken,
    InvalidPrice,
    InvalidReorder,
    NotAuthenticated,
    ServiceNotFound,
    WorkspaceAlreadyExists,
    WorkspaceNotFound,
    WorkspaceRequired,
)
from workspaces.events import subscribers
from workspaces.settings import Settings

ERROR_STATUS = [
    (NotAuthenticated, 401),
    (WorkspaceNotFound, 404),
    (ServiceNotFound, 404),
    (WorkspaceAlreadyExists, 409),
    (HandleTaken, 409),
    (WorkspaceRequired, 409),
    (InvalidPrice, 422),
    (InvalidReorder, 422),
]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(settings, "workspaces", outbox)
    if settings.run_consumers:
        subscribers.register(runtime)
    return create_service_app(
        runtime,
        title="Base Platform workspaces",
        routers=[workspaces.router, services.router, public.router, internal.router],
        exception_handlers=exception_handlers(ERROR_STATUS),
    )
