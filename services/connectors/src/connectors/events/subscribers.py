"""Event consumers of the connectors service: thin (parse, claim inbox, call a use case)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
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
    Event,
    WorkspaceCreatedV1,
    WorkspaceDeletedV1,
    WorkspaceServiceCreatedV1,
    WorkspaceServiceDeletedV1,
    WorkspaceServiceUpdatedV1,
    WorkspaceUpdatedV1,
)
from shared.runtime import Runtime

CONSUMER = "connectors"


def on(
    event_class: type[Event],
    apply: Callable[[Any, Any, datetime], Awaitable[None]],
    name: str,
    doc: str,
) -> Callable[[Any, Envelope], Awaitable[None]]:
    """A consumer effect: parse the payload as `event_class`, apply it with the event time
    (the projections keep the newest snapshot by it)."""

    async def effect(uow: Any, envelope: Envelope) -> None:
        event = envelope.parsed()
        assert isinstance(event, event_class)
        await apply(uow, event, envelope.occurred_at)

    effect.__name__, effect.__doc__ = name, doc
    return effect


on_workspace_created = on(
    WorkspaceCreatedV1,
    project_workspace,
    "on_workspace_created",
    "Add the workspace (owner, timezone) to the local projection.",
)
on_workspace_updated = on(
    WorkspaceUpdatedV1,
    project_workspace,
    "on_workspace_updated",
    "Refresh the projected workspace (its timezone may have changed).",
)
on_workspace_deleted = on(
    WorkspaceDeletedV1,
    remove_workspace,
    "on_workspace_deleted",
    "Remove the workspace's connectors and keep a tombstone.",
)
on_workspace_service_created = on(
    WorkspaceServiceCreatedV1,
    project_service,
    "on_workspace_service_created",
    "Add the service to the catalogue the built-in calendar offers.",
)
on_workspace_service_updated = on(
    WorkspaceServiceUpdatedV1,
    project_service,
    "on_workspace_service_updated",
    "Refresh the service (name, length, whether it is offered).",
)
on_workspace_service_deleted = on(
    WorkspaceServiceDeletedV1,
    remove_service,
    "on_workspace_service_deleted",
    "Stop offering the service; keep a tombstone.",
)


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
