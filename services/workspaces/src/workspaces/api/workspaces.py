"""/workspaces: the caller's workspace, and every workspace for superusers."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, status

from shared.web import Page, PaginationDep
from workspaces.api.deps import OwnerDep, UowDep
from workspaces.api.schemas import (
    FACT_FIELDS,
    HandleAvailabilityRead,
    WorkspaceCreate,
    WorkspaceRead,
    WorkspaceUpdate,
)
from workspaces.domain.inputs import NewWorkspace, WorkspaceChanges
from workspaces.usecases import workspaces as usecases

router = APIRouter(prefix="/workspaces", tags=["workspaces"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: {"description": "No such workspace of yours"}
}


# The collection also answers without the trailing slash: the gateway forwards paths as they
# come, and a redirect would point at this service's internal address.
@router.post("", status_code=status.HTTP_201_CREATED, include_in_schema=False)
@router.post(
    "/",
    status_code=status.HTTP_201_CREATED,
    responses={status.HTTP_409_CONFLICT: {"description": "You have one, or the handle is taken"}},
)
async def create_workspace(body: WorkspaceCreate, uow: UowDep, owner: OwnerDep) -> WorkspaceRead:
    facts = body.model_dump(mode="json", include=set(FACT_FIELDS), exclude_none=True)
    data = NewWorkspace(
        handle=body.handle,
        name=body.name,
        tone=body.tone,
        timezone=body.timezone,
        facts=facts,  # type: ignore[arg-type]
    )
    workspace = await usecases.create_workspace(uow, owner, data)
    return WorkspaceRead.model_validate(workspace)


@router.get("", include_in_schema=False)
@router.get("/")
async def list_workspaces(
    uow: UowDep,
    owner: OwnerDep,
    page: PaginationDep,
    q: Annotated[str | None, Query(max_length=63, description="Part of a handle")] = None,
) -> Page[WorkspaceRead]:
    """Superusers see every workspace; anyone else sees their own."""
    rows, count = await usecases.list_workspaces(uow, owner, q=q, skip=page.skip, limit=page.limit)
    return Page(data=[WorkspaceRead.model_validate(w) for w in rows], count=count)


@router.get("/me", responses=NOT_FOUND)
async def read_my_workspace(uow: UowDep, owner: OwnerDep) -> WorkspaceRead:
    return WorkspaceRead.model_validate(await usecases.get_my_workspace(uow, owner))


@router.get("/handle-available")
async def handle_available(
    uow: UowDep, handle: Annotated[str, Query(max_length=255)]
) -> HandleAvailabilityRead:
    """Whether a handle can be used; an invalid one is unavailable, with the reason.

    Open to anonymous callers too: a signup form asks before the account exists.
    """
    return HandleAvailabilityRead.model_validate(await usecases.check_handle(uow, handle))


@router.get("/{workspace_id}", responses=NOT_FOUND)
async def read_workspace(workspace_id: UUID, uow: UowDep, owner: OwnerDep) -> WorkspaceRead:
    return WorkspaceRead.model_validate(await usecases.get_workspace(uow, owner, workspace_id))


@router.patch("/{workspace_id}", responses=NOT_FOUND)
async def update_workspace(
    workspace_id: UUID, body: WorkspaceUpdate, uow: UowDep, owner: OwnerDep
) -> WorkspaceRead:
    """Changes the fields sent; see WorkspaceUpdate for what null does to each fact."""
    # JSON mode: URLs and entries arrive as the plain values stored; `policies` keeps only
    # the policies named, since unset fields stay unset inside it too.
    changes = WorkspaceChanges(**body.model_dump(mode="json", exclude_unset=True))  # type: ignore[typeddict-item]
    workspace = await usecases.update_workspace(uow, owner, workspace_id, changes)
    return WorkspaceRead.model_validate(workspace)


@router.delete("/{workspace_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_workspace(workspace_id: UUID, uow: UowDep, owner: OwnerDep) -> None:
    """Deletes the workspace and all its services."""
    await usecases.delete_workspace(uow, owner, workspace_id)
