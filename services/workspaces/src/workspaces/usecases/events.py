"""Event payloads built from rows: one place decides what other services get to see."""

from shared.events import (
    WorkspaceCreatedV1,
    WorkspaceDeletedV1,
    WorkspaceFaqEntryV1,
    WorkspacePoliciesV1,
    WorkspaceServiceCreatedV1,
    WorkspaceServiceDeletedV1,
    WorkspaceServiceUpdatedV1,
    WorkspaceUpdatedV1,
)
from workspaces.db.models import Workspace, WorkspaceService


def workspace_event(
    cls: type[WorkspaceCreatedV1 | WorkspaceUpdatedV1], workspace: Workspace
) -> WorkspaceCreatedV1 | WorkspaceUpdatedV1:
    return cls(
        workspace_id=workspace.id,
        owner_id=workspace.owner_id,
        handle=workspace.handle,
        name=workspace.name,
        tone=workspace.tone,
        timezone=workspace.timezone,
        address=workspace.address,
        map_url=workspace.map_url,
        phone=workspace.phone,
        email=workspace.email,
        payment_methods=list(workspace.payment_methods),
        policies=WorkspacePoliciesV1(**workspace.policies),
        faq=[WorkspaceFaqEntryV1(**entry) for entry in workspace.faq],
    )


def workspace_deleted(workspace: Workspace) -> WorkspaceDeletedV1:
    return WorkspaceDeletedV1(
        workspace_id=workspace.id,
        owner_id=workspace.owner_id,
        handle=workspace.handle,
        name=workspace.name,
        timezone=workspace.timezone,
    )


def service_event(
    cls: type[WorkspaceServiceCreatedV1 | WorkspaceServiceUpdatedV1], service: WorkspaceService
) -> WorkspaceServiceCreatedV1 | WorkspaceServiceUpdatedV1:
    return cls(
        service_id=service.id,
        workspace_id=service.workspace_id,
        name=service.name,
        description=service.description,
        duration_minutes=service.duration_minutes,
        price=None if service.price is None else str(service.price),
        currency=service.currency,
        is_active=service.is_active,
        position=service.position,
    )


def service_deleted(service: WorkspaceService) -> WorkspaceServiceDeletedV1:
    return WorkspaceServiceDeletedV1(service_id=service.id, workspace_id=service.workspace_id)
