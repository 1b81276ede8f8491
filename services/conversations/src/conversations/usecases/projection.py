"""The local projection of workspaces, maintained from `workspace.*` events."""

from __future__ import annotations

from typing import Any

from conversations.db.uow import ConversationsUnitOfWork
from conversations.usecases.contacts import remove_workspace_contacts
from shared.events import Envelope, WorkspaceCreatedV1, WorkspaceDeletedV1, WorkspaceUpdatedV1

FACTS = ("address", "map_url", "phone", "email", "payment_methods", "policies", "faq")


def business_facts(event: WorkspaceCreatedV1 | WorkspaceUpdatedV1) -> dict[str, Any]:
    """The facts the snapshot carries, as stored here. A producer that predates them sends
    none (they are not in `model_fields_set`), and what was known stays."""
    sent = event.model_dump(mode="json", include=set(FACTS) & event.model_fields_set)
    defaults: dict[str, Any] = {"payment_methods": [], "policies": {}, "faq": []}
    return {k: defaults[k] if v is None and k in defaults else v for k, v in sent.items()}


async def project_workspace(uow: ConversationsUnitOfWork, envelope: Envelope) -> None:
    """`workspace.created|updated`: keep handle, owner, timezone, name, tone and the business
    facts; newest snapshot wins."""
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
        facts=business_facts(event),
    )


async def remove_workspace(uow: ConversationsUnitOfWork, envelope: Envelope) -> None:
    """`workspace.deleted` (also how a deleted user's data goes: the workspaces service
    deletes the user's workspace and announces it): tombstone it and remove its
    conversations, messages, accounts and contacts (`contact.deleted` for each)."""
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
    await remove_workspace_contacts(uow, event.workspace_id)
