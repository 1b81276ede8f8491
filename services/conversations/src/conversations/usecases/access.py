"""Who the caller is, in terms of this service: the owner of one live workspace."""

from __future__ import annotations

from conversations.db.models import Workspace
from conversations.db.uow import ConversationsUnitOfWork
from conversations.domain.errors import NotAuthenticated, NoWorkspace
from shared import workspace_lookup
from shared.tokens import Principal


async def owner_workspace(uow: ConversationsUnitOfWork, principal: Principal) -> Workspace:
    """The caller's workspace from the local projection; every owner query is scoped by it."""
    if principal.user_id is None:
        raise NotAuthenticated("Log in to manage conversations")
    workspace = await uow.workspaces.for_owner(principal.user_id)
    if workspace is None and await _catch_up(
        uow, await workspace_lookup.for_owner(principal.user_id)
    ):
        workspace = await uow.workspaces.for_owner(principal.user_id)
    if workspace is None:
        raise NoWorkspace("You have no workspace yet")
    return workspace


async def workspace_by_handle(uow: ConversationsUnitOfWork, handle: str) -> Workspace | None:
    """A live workspace by its public handle, from the projection or, on a miss, its owner."""
    workspace = await uow.workspaces.by_handle(handle)
    if workspace is None and await _catch_up(uow, await workspace_lookup.by_handle(handle)):
        workspace = await uow.workspaces.by_handle(handle)
    return workspace


async def _catch_up(
    uow: ConversationsUnitOfWork, found: workspace_lookup.WorkspaceSnapshot | None
) -> bool:
    """Read your writes: the workspace.created event may still be on its way. The snapshot
    goes in the way the event consumer writes (newest wins, tombstones final)."""
    if found is None:
        return False
    await uow.workspaces.upsert(
        found.id,
        found.owner_id,
        found.handle,
        found.timezone,
        found.updated_at,
        name=found.name,
        tone=found.tone,
    )
    return True
