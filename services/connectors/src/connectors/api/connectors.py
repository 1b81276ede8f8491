from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from connectors.api.deps import ServicesDep, UserDep
from connectors.api.schemas import ConnectorCreate, ConnectorRead, ConnectorUpdate
from connectors.usecases import connectors as uc
from shared.web import Page, PaginationDep

router = APIRouter(prefix="/connectors", tags=["connectors"])


@router.post("/", status_code=status.HTTP_201_CREATED)
async def create_connector(
    body: ConnectorCreate, user: UserDep, services: ServicesDep
) -> ConnectorRead:
    """Add a connector to your workspace (inactive and unchecked until you say so)."""
    async with services.uow() as uow:
        view = await uc.create_connector(uow, services.vault, user, body.name, body.config)
        return ConnectorRead.of(view)


@router.get("/")
async def list_connectors(
    user: UserDep, services: ServicesDep, page: PaginationDep
) -> Page[ConnectorRead]:
    async with services.uow() as uow:
        workspace = await uc.workspace_of(uow, user)
        if workspace is None:
            return Page(data=[], count=0)
        rows, count = await uow.connectors.page(workspace.workspace_id, page.skip, page.limit)
        data = [ConnectorRead.of(uc.view(row, services.vault)) for row in rows]
    return Page(data=data, count=count)


@router.get("/active")
async def get_active_connector(user: UserDep, services: ServicesDep) -> ConnectorRead:
    async with services.uow() as uow:
        _, connector = await uc.active_connector(uow, user)
        return ConnectorRead.of(uc.view(connector, services.vault))


@router.get("/{connector_id}")
async def get_connector(
    connector_id: uuid.UUID, user: UserDep, services: ServicesDep
) -> ConnectorRead:
    async with services.uow() as uow:
        _, connector = await uc.owned(uow, user, connector_id)
        return ConnectorRead.of(uc.view(connector, services.vault))


@router.patch("/{connector_id}")
async def update_connector(
    connector_id: uuid.UUID, body: ConnectorUpdate, user: UserDep, services: ServicesDep
) -> ConnectorRead:
    async with services.uow() as uow:
        view = await uc.update_connector(
            uow, services.vault, user, connector_id, body.name, body.config
        )
        return ConnectorRead.of(view)


@router.delete("/{connector_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_connector(
    connector_id: uuid.UUID, user: UserDep, services: ServicesDep
) -> Response:
    async with services.uow() as uow:
        await uc.delete_connector(uow, user, connector_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{connector_id}/activate")
async def activate_connector(
    connector_id: uuid.UUID, user: UserDep, services: ServicesDep
) -> ConnectorRead:
    """Make this the workspace's active connector; the previous one is deactivated.

    A Square connector is first checked to see its location with its own token (else 422).
    """
    view = await uc.activate_connector(
        services.uow, services.vault, services.providers, user, connector_id
    )
    return ConnectorRead.of(view)


@router.post("/{connector_id}/deactivate")
async def deactivate_connector(
    connector_id: uuid.UUID, user: UserDep, services: ServicesDep
) -> ConnectorRead:
    async with services.uow() as uow:
        view = await uc.deactivate_connector(uow, services.vault, user, connector_id)
        return ConnectorRead.of(view)


@router.post("/{connector_id}/check")
async def check_connector(
    connector_id: uuid.UUID, user: UserDep, services: ServicesDep
) -> ConnectorRead:
    """Ask the provider whether the credentials work; the result is stored on the connector."""
    view = await uc.check_connector(
        services.uow, services.vault, services.providers, user, connector_id
    )
    return ConnectorRead.of(view)
