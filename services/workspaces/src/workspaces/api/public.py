"""/public/workspaces: what visitor-facing pages read, without signing in."""

from fastapi import APIRouter, status

from workspaces.api.deps import UowDep
from workspaces.api.schemas import FactsRead, PublicServiceRead, PublicWorkspaceRead
from workspaces.usecases import services, workspaces

router = APIRouter(prefix="/public/workspaces", tags=["public"])


@router.get(
    "/{handle}", responses={status.HTTP_404_NOT_FOUND: {"description": "No such workspace"}}
)
async def read_public_workspace(handle: str, uow: UowDep) -> PublicWorkspaceRead:
    """Handle, name, tone, timezone, the business facts (address, phone, policies, FAQ...)
    and the active services in display order."""
    workspace = await workspaces.get_public_workspace(uow, handle)
    offered = await services.list_public_services(uow, workspace)
    return PublicWorkspaceRead.model_validate(
        {
            **FactsRead.model_validate(workspace).model_dump(),
            "handle": workspace.handle,
            "name": workspace.name,
            "tone": workspace.tone,
            "timezone": workspace.timezone,
            "services": [PublicServiceRead.model_validate(s) for s in offered],
        }
    )
