"""Who the caller is, in terms of this service: the owner of one live workspace."""

from __future__ import annotations

from conversations.db.models import Workspace
from conversations.db.uow import ConversationsUnitOfWork
from conversations.domain.errors import NotAuthenticated, NoWorkspace
from shared.tokens import Principal


async def owner_workspace(uow: ConversationsUnitOfWork, principal: Principal) -> Workspace:
    """The caller's workspace from the local projection; every owner query is scoped by it."""
    if principal.user_id is None:
        raise NotAuthenticated("Log in to manage conversations")
    workspace = await uow.workspaces.for_owner(principal.user_id)
    if workspace is None:
        raise NoWorkspace("You have no workspace yet")
    return workspace
