"""/public/workspaces: what visitor-facing pages read, without signing in."""

from fastapi import APIRouter, status

from workspaces.api.deps import UowDep
from workspaces.api.schemas import PublicServiceRead, PublicWorkspaceRead
from workspaces.usecases import services, workspaces

router = APIRouter(prefix="/public/workspaces", tags=["public"])


@router.get(
    "/{handle}", responses={status.HTTP_404_NOT_FOUND: {"description": "No such workspace"}}
)
async def read_public_workspace(handle: str, uow: UowDep) -> PublicWorkspaceRead:
    """Handle, name, tone, timezone and the active services in display order."""
    workspace = await workspaces.get_public_workspace(uow, handle)
    offered = await services.list_public_services(uow, workspace)
    return PublicWorkspaceRead(
        handle=workspace.handle,
        name=workspace.name,
        tone=workspace.tone,
        timezone=workspace.timezone,
        services=[PublicServiceRead.model_validate(s) for s in offered],
    )
