"""What the agent needs to know of other services: each workspace's services
(`workspace_service.*`) and whether a connector is active (`connector.*`)."""

from __future__ import annotations

from decimal import Decimal

from conversations.db.agent import AgentRepository
from conversations.db.uow import ConversationsUnitOfWork
from shared.events import (
    ConnectorActivatedV1,
    ConnectorDeactivatedV1,
    Envelope,
    WorkspaceServiceCreatedV1,
    WorkspaceServiceDeletedV1,
    WorkspaceServiceUpdatedV1,
)


async def project_service(uow: ConversationsUnitOfWork, envelope: Envelope) -> None:
    """`workspace_service.created|updated`: newest snapshot wins."""
    event = envelope.parsed()
    assert isinstance(event, WorkspaceServiceCreatedV1 | WorkspaceServiceUpdatedV1)
    await AgentRepository(uow.session).upsert_service(
        {
            "id": event.service_id,
            "workspace_id": event.workspace_id,
            "name": event.name,
            "description": event.description,
            "duration_minutes": event.duration_minutes,
            # Decimal from its string form; both null when the service has no price.
            "price": Decimal(event.price) if event.price is not None else None,
            "currency": event.currency if event.price is not None else None,
            "is_active": event.is_active,
            "position": event.position,
            "source_updated_at": envelope.occurred_at,
        }
    )


async def remove_service(uow: ConversationsUnitOfWork, envelope: Envelope) -> None:
    """`workspace_service.deleted`: a tombstone, so a late update cannot bring it back."""
    event = envelope.parsed()
    assert isinstance(event, WorkspaceServiceDeletedV1)
    await AgentRepository(uow.session).upsert_service(
        {
            "id": event.service_id,
            "workspace_id": event.workspace_id,
            "name": "",
            "duration_minutes": 0,
            "is_active": False,
            "source_updated_at": envelope.occurred_at,
        },
        deleted=True,
    )


async def project_connector(uow: ConversationsUnitOfWork, envelope: Envelope) -> None:
    """`connector.activated|deactivated`: each connector's newest state."""
    event = envelope.parsed()
    assert isinstance(event, ConnectorActivatedV1 | ConnectorDeactivatedV1)
    await AgentRepository(uow.session).upsert_connector(
        event.connector_id,
        event.workspace_id,
        event.provider,
        isinstance(event, ConnectorActivatedV1),
        envelope.occurred_at,
    )
