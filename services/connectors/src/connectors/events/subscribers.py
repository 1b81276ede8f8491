"""Event consumers of the connectors service: thin (parse, claim inbox, call a use case)."""

from __future__ import annotations

from typing import Any

from connectors.db.models import inbox
from connectors.db.uow import ConnectorsUnitOfWork
from connectors.usecases.workspaces import (
    project_service,
    project_workspace,
    remove_service,
    remove_workspace,
)
from shared.db.inbox import idempotent
from shared.events import (
    Envelope,
    WorkspaceCreatedV1,
    WorkspaceDeletedV1,
    WorkspaceServiceCreatedV1,
    WorkspaceServiceDeletedV1,
    WorkspaceServiceUpdatedV1,
    WorkspaceUpdatedV1,
)
from shared.runtime import Runtime

CONSUMER = "connectors"


async def on_workspace_created(uow: Any, envelope: Envelope) -> None:
    """Add the workspace (owner, timezone) to the local projection."""
    event = envelope.parsed()
    assert isinstance(event, WorkspaceCreatedV1)
    await project_workspace(uow, event, envelope.occurred_at)


async def on_workspace_updated(uow: Any, envelope: Envelope) -> None:
    """Refresh the projected workspace (its timezone may have changed)."""
    event = envelope.parsed()
    assert isinstance(event, WorkspaceUpdatedV1)
    await project_workspace(uow, event, envelope.occurred_at)


async def on_workspace_deleted(uow: Any, envelope: Envelope) -> None:
    """Remove the workspace's connectors and keep a tombstone."""
    event = envelope.parsed()
    assert isinstance(event, WorkspaceDeletedV1)
    await remove_workspace(uow, event, envelope.occurred_at)


async def on_workspace_service_created(uow: Any, envelope: Envelope) -> None:
    """Add the service to the catalogue the built-in calendar offers."""
    event = envelope.parsed()
    assert isinstance(event, WorkspaceServiceCreatedV1)
    await project_service(uow, event, envelope.occurred_at)


async def on_workspace_service_updated(uow: Any, envelope: Envelope) -> None:
    """Refresh the service (name, length, whether it is offered)."""
    event = envelope.parsed()
    assert isinstance(event, WorkspaceServiceUpdatedV1)
    await project_service(uow, event, envelope.occurred_at)


async def on_workspace_service_deleted(uow: Any, envelope: Envelope) -> None:
    """Stop offering the service; keep a tombstone."""
    event = envelope.parsed()
    assert isinstance(event, WorkspaceServiceDeletedV1)
    await remove_service(uow, event, envelope.occurred_at)


def register(runtime: Runtime) -> None:
    """Subscribe this service's handlers on its own quorum queues."""

    def uow() -> ConnectorsUnitOfWork:
        return ConnectorsUnitOfWork(runtime.sessionmaker)

    for event_class, effect in (
        (WorkspaceCreatedV1, on_workspace_created),
        (WorkspaceUpdatedV1, on_workspace_updated),
        (WorkspaceDeletedV1, on_workspace_deleted),
        (WorkspaceServiceCreatedV1, on_workspace_service_created),
        (WorkspaceServiceUpdatedV1, on_workspace_service_updated),
        (WorkspaceServiceDeletedV1, on_workspace_service_deleted),
    ):
        runtime.bus.subscribe(event_class, idempotent(uow, inbox, CONSUMER, effect))
