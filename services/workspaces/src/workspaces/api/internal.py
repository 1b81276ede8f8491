"""/internal: reads for the other services, never forwarded by the gateway.

Connectors and conversations call this when their workspace projection has not caught up
yet (see `shared.workspace_lookup`); the gateway has no route to it, and like every route
here it needs an internal token.
"""

from fastapi import APIRouter

from workspaces.api.deps import UowDep
from workspaces.api.schemas import WorkspaceRead
from workspaces.usecases import workspaces

router = APIRouter(prefix="/internal/workspaces", tags=["internal"], include_in_schema=False)


@router.get("/by-handle/{handle}")
async def read_workspace_by_handle(handle: str, uow: UowDep) -> WorkspaceRead:
    return WorkspaceRead.model_validate(await workspaces.get_public_workspace(uow, handle))
