"""The local projection of workspaces, maintained from `workspace.*` events."""

from __future__ import annotations

from conversations.db.uow import ConversationsUnitOfWork
from shared.events import Envelope, WorkspaceCreatedV1, WorkspaceDeletedV1, WorkspaceUpdatedV1


async def project_workspace(uow: ConversationsUnitOfWork, envelope: Envelope) -> None:
    """`workspace.created|updated`: keep handle, owner and timezone; newest snapshot wins."""
    event = envelope.parsed()
    assert isinstance(event, WorkspaceCreatedV1 | WorkspaceUpdatedV1)
    await uow.workspaces.upsert(
        event.workspace_id,
        event.owner_id,
        event.handle,
        event.timezone,
        envelope.occurred_at,
        name=event.name,
        tone=event.tone,
    )


async def remove_workspace(uow: ConversationsUnitOfWork, envelope: Envelope) -> None:
    """`workspace.deleted`: tombstone it and remove its conversations, messages, accounts."""
    event = envelope.parsed()
    assert isinstance(event, WorkspaceDeletedV1)
    await uow.workspaces.upsert(
        event.workspace_id,
        event.owner_id,
        event.handle,
        event.timezone,
        envelope.occurred_at,
        deleted=True,
    )
    await uow.workspaces.purge_contents(event.workspace_id)
