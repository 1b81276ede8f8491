"""Use cases for the services a workspace offers, always inside the caller's own workspace."""

from collections.abc import Sequence
from uuid import UUID

from shared.events import WorkspaceServiceCreatedV1, WorkspaceServiceUpdatedV1
from shared.tokens import Principal
from workspaces.db.models import Workspace, WorkspaceService
from workspaces.db.uow import WorkspacesUnitOfWork
from workspaces.domain.errors import ServiceNotFound, WorkspaceNotFound, WorkspaceRequired
from workspaces.domain.inputs import NewService, ServiceChanges
from workspaces.domain.services import check_price, check_reorder
from workspaces.usecases.common import caller_id
from workspaces.usecases.events import service_deleted, service_event

# Every write locks the caller's workspace row first. That serialises the writes of one
# catalogue: two creates never pick the same position, and a reorder never moves a service
# that a concurrent delete just removed. Catalogues are small and rarely edited at once.


async def _workspace_for_write(uow: WorkspacesUnitOfWork, principal: Principal) -> Workspace:
    workspace = await uow.workspaces.get_for_owner(caller_id(principal), lock=True)
    if workspace is None:
        raise WorkspaceRequired()
    return workspace


async def _owned_service(
    uow: WorkspacesUnitOfWork, principal: Principal, service_id: UUID, *, lock: bool = False
) -> WorkspaceService:
    """The service if it is in the caller's workspace; anything else is not found."""
    workspace = await uow.workspaces.get_for_owner(caller_id(principal), lock=lock)
    service = None if workspace is None else await uow.services.get(service_id, workspace.id)
    if service is None:
        raise ServiceNotFound()
    return service


async def create_service(
    uow: WorkspacesUnitOfWork, principal: Principal, data: NewService
) -> WorkspaceService:
    check_price(data.price, data.currency)
    workspace = await _workspace_for_write(uow, principal)
    service = WorkspaceService(
        workspace_id=workspace.id,
        name=data.name,
        description=data.description,
        duration_minutes=data.duration_minutes,
        price=data.price,
        currency=data.currency,
        is_active=data.is_active,
        position=await uow.services.next_position(workspace.id),
    )
    uow.services.add(service)
    await uow.session.flush()
    await uow.emit(service_event(WorkspaceServiceCreatedV1, service))
    await uow.commit()
    return service


async def update_service(
    uow: WorkspacesUnitOfWork, principal: Principal, service_id: UUID, changes: ServiceChanges
) -> WorkspaceService:
    service = await _owned_service(uow, principal, service_id, lock=True)
    values = ServiceChanges(**changes)
    if "price" in values and values["price"] is None and "currency" not in values:
        values["currency"] = None  # removing the price removes its currency
    check_price(values.get("price", service.price), values.get("currency", service.currency))
    changed = {k: v for k, v in values.items() if getattr(service, k) != v}
    if not changed:
        return service
    for key, value in changed.items():
        setattr(service, key, value)
    await uow.session.flush()
    await uow.emit(service_event(WorkspaceServiceUpdatedV1, service))
    await uow.commit()
    return service


async def delete_service(uow: WorkspacesUnitOfWork, principal: Principal, service_id: UUID) -> None:
    service = await _owned_service(uow, principal, service_id, lock=True)
    await uow.emit(service_deleted(service))
    await uow.services.delete(service)
    await uow.session.flush()
    await uow.commit()


async def reorder_services(
    uow: WorkspacesUnitOfWork, principal: Principal, ids: list[UUID]
) -> Sequence[WorkspaceService]:
    """Positions follow the given order; every moved service emits an update."""
    workspace = await _workspace_for_write(uow, principal)
    services, _ = await uow.services.list(workspace.id)
    by_id = {s.id: s for s in services}
    check_reorder(ids, set(by_id))
    moved = []
    for position, service_id in enumerate(ids):
        service = by_id[service_id]
        if service.position != position:
            service.position = position
            moved.append(service)
    if moved:
        # The (workspace, position) uniqueness is deferred, so swaps are checked at commit.
        await uow.session.flush()
        for service in moved:
            await uow.emit(service_event(WorkspaceServiceUpdatedV1, service))
        await uow.commit()
    return [by_id[i] for i in ids]


# -- reads -----------------------------------------------------------------------------------


async def get_service(
    uow: WorkspacesUnitOfWork, principal: Principal, service_id: UUID
) -> WorkspaceService:
    return await _owned_service(uow, principal, service_id)


async def list_services(
    uow: WorkspacesUnitOfWork,
    principal: Principal,
    *,
    active: bool | None,
    skip: int,
    limit: int,
) -> tuple[Sequence[WorkspaceService], int]:
    workspace = await uow.workspaces.get_for_owner(caller_id(principal))
    if workspace is None:
        raise WorkspaceNotFound(
            "You have no workspace yet, so no services: create one with POST /api/v1/workspaces/"
        )
    return await uow.services.list(workspace.id, active=active, skip=skip, limit=limit)


async def list_public_services(
    uow: WorkspacesUnitOfWork, workspace: Workspace
) -> Sequence[WorkspaceService]:
    """What visitors may book: active services only, in display order."""
    services, _ = await uow.services.list(workspace.id, active=True)
    return services
