"""/workspace-services: what the caller's workspace offers, in display order."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, status

from shared.web import Page, PaginationDep
from workspaces.api.deps import OwnerDep, UowDep
from workspaces.api.schemas import (
    WorkspaceServiceCreate,
    WorkspaceServiceRead,
    WorkspaceServiceReorder,
    WorkspaceServiceUpdate,
)
from workspaces.domain.inputs import NewService, ServiceChanges
from workspaces.usecases import services as usecases

router = APIRouter(prefix="/workspace-services", tags=["workspace services"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: {"description": "No such service in your workspace"}
}
NO_WORKSPACE: dict[int | str, dict[str, Any]] = {
    status.HTTP_409_CONFLICT: {"description": "You have no workspace yet"}
}


# Also without the trailing slash: the gateway forwards paths as they come.
@router.post("", status_code=status.HTTP_201_CREATED, include_in_schema=False)
@router.post("/", status_code=status.HTTP_201_CREATED, responses=NO_WORKSPACE)
async def create_service(
    body: WorkspaceServiceCreate, uow: UowDep, owner: OwnerDep
) -> WorkspaceServiceRead:
    """Adds a service at the end of the display order."""
    service = await usecases.create_service(uow, owner, NewService(**body.model_dump()))
    return WorkspaceServiceRead.model_validate(service)


@router.get("", include_in_schema=False)
@router.get("/")
async def list_services(
    uow: UowDep,
    owner: OwnerDep,
    page: PaginationDep,
    active: Annotated[bool | None, Query(description="Only active (or inactive) ones")] = None,
) -> Page[WorkspaceServiceRead]:
    rows, count = await usecases.list_services(
        uow, owner, active=active, skip=page.skip, limit=page.limit
    )
    return Page(data=[WorkspaceServiceRead.model_validate(s) for s in rows], count=count)


@router.post("/reorder", responses=NO_WORKSPACE)
async def reorder_services(
    body: WorkspaceServiceReorder, uow: UowDep, owner: OwnerDep
) -> Page[WorkspaceServiceRead]:
    """Sets the display order: list every one of your services once, first to last."""
    rows = await usecases.reorder_services(uow, owner, body.ids)
    return Page(data=[WorkspaceServiceRead.model_validate(s) for s in rows], count=len(rows))


@router.get("/{service_id}", responses=NOT_FOUND)
async def read_service(service_id: UUID, uow: UowDep, owner: OwnerDep) -> WorkspaceServiceRead:
    return WorkspaceServiceRead.model_validate(await usecases.get_service(uow, owner, service_id))


@router.patch("/{service_id}", responses=NOT_FOUND)
async def update_service(
    service_id: UUID, body: WorkspaceServiceUpdate, uow: UowDep, owner: OwnerDep
) -> WorkspaceServiceRead:
    changes = ServiceChanges(**body.model_dump(exclude_unset=True))  # type: ignore[typeddict-item]
    service = await usecases.update_service(uow, owner, service_id, changes)
    return WorkspaceServiceRead.model_validate(service)


@router.delete("/{service_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_service(service_id: UUID, uow: UowDep, owner: OwnerDep) -> None:
    await usecases.delete_service(uow, owner, service_id)
