"""Event consumers of the connectors service: thin (parse, claim inbox, call a use case)."""

from __future__ import annotations

from typing import Any

from connectors.db.models import inbox
from connectors.db.uow import ConnectorsUnitOfWork
from connectors.usecases.workspaces import project_workspace, remove_workspace
from shared.db.inbox import idempotent
from shared.events import (
    Envelope,
    WorkspaceCreatedV1,
    WorkspaceDeletedV1,
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


def register(runtime: Runtime) -> None:
    """Subscribe this service's handlers on its own quorum queues."""

    def uow() -> ConnectorsUnitOfWork:
        return ConnectorsUnitOfWork(runtime.sessionmaker)

    for event_class, effect in (
        (WorkspaceCreatedV1, on_workspace_created),
        (WorkspaceUpdatedV1, on_workspace_updated),
        (WorkspaceDeletedV1, on_workspace_deleted),
    ):
        runtime.bus.subscribe(event_class, idempotent(uow, inbox, CONSUMER, effect))
