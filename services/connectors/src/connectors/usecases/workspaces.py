"""The local workspace projection, kept from `workspace.*` and `workspace_service.*` events."""

from __future__ import annotations

import logging
from datetime import datetime

from connectors.db.uow import ConnectorsUnitOfWork
from shared.events import ConnectorDeactivatedV1, WorkspaceDeletedV1
from shared.events.workspaces import (
    WorkspaceCreatedV1,
    WorkspaceServiceCreatedV1,
    WorkspaceServiceDeletedV1,
    WorkspaceServiceUpdatedV1,
    WorkspaceUpdatedV1,
)

log = logging.getLogger(__name__)


async def project_workspace(
    uow: ConnectorsUnitOfWork,
    event: WorkspaceCreatedV1 | WorkspaceUpdatedV1,
    occurred_at: datetime,
) -> None:
    applied = await uow.workspaces.upsert(
        event.workspace_id, event.owner_id, event.handle, event.timezone, occurred_at
    )
    if not applied:
        log.info(
            "stale or post-deletion workspace event ignored",
            extra={"workspace_id": str(event.workspace_id)},
        )


async def remove_workspace(
    uow: ConnectorsUnitOfWork, event: WorkspaceDeletedV1, occurred_at: datetime
) -> None:
    """Tombstone the workspace, delete its connectors (their bookings go with them) and
    its projected services."""
    workspace = await uow.workspaces.get(event.workspace_id, lock=True)
    if workspace is not None:
        active = await uow.connectors.active(event.workspace_id)
        if active is not None:
            await uow.emit(
                ConnectorDeactivatedV1(
                    connector_id=active.id,
                    workspace_id=active.workspace_id,
                    provider=active.provider,
                    name=active.name,
                )
            )
        removed = await uow.connectors.delete_of_workspace(event.workspace_id)
        log.info(
            "workspace deleted: connectors removed",
            extra={"workspace_id": str(event.workspace_id), "removed": removed},
        )
    await uow.services.delete_of_workspace(event.workspace_id)
    await uow.workspaces.tombstone(
        event.workspace_id, event.owner_id, event.handle, event.timezone, occurred_at
    )


async def project_service(
    uow: ConnectorsUnitOfWork,
    event: WorkspaceServiceCreatedV1 | WorkspaceServiceUpdatedV1,
    occurred_at: datetime,
) -> None:
    """Keep the catalogue the built-in calendar offers."""
    workspace = await uow.workspaces.get(event.workspace_id)
    if workspace is not None and workspace.deleted_at is not None:
        return  # a late event of a deleted workspace: nothing to offer any more
    applied = await uow.services.upsert(
        event.service_id,
        event.workspace_id,
        name=event.name,
        description=event.description,
        duration_minutes=event.duration_minutes,
        is_active=event.is_active,
        position=event.position,
        version=occurred_at,
    )
    if not applied:
        log.info(
            "stale or post-deletion service event ignored",
            extra={"service_id": str(event.service_id)},
        )


async def remove_service(
    uow: ConnectorsUnitOfWork, event: WorkspaceServiceDeletedV1, occurred_at: datetime
) -> None:
    """A tombstone, so a late `created` or `updated` cannot offer the service again."""
    await uow.services.tombstone(event.service_id, event.workspace_id, occurred_at)
