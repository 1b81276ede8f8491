"""Workspace use cases. Writes commit once, with their events, or not at all."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError

from shared.events import WorkspaceCreatedV1, WorkspaceUpdatedV1
from shared.tokens import Principal
from workspaces.db.models import UQ_WORKSPACE_HANDLE, UQ_WORKSPACE_OWNER, Workspace
from workspaces.db.uow import WorkspacesUnitOfWork
from workspaces.domain.errors import HandleTaken, WorkspaceAlreadyExists, WorkspaceNotFound
from workspaces.domain.facts import POLICIES
from workspaces.domain.handles import handle_problem
from workspaces.domain.inputs import NewWorkspace, WorkspaceChanges
from workspaces.usecases.common import caller_id, violated_constraint
from workspaces.usecases.events import service_deleted, workspace_deleted, workspace_event


async def _flush(uow: WorkspacesUnitOfWork, handle: str) -> None:
    """Write pending rows now; a lost race on a unique constraint becomes the matching 409."""
    try:
        await uow.session.flush()
    except IntegrityError as exc:
        await uow.session.rollback()
        constraint = violated_constraint(exc)
        if constraint == UQ_WORKSPACE_HANDLE:
            raise HandleTaken(handle) from exc
        if constraint == UQ_WORKSPACE_OWNER:
            raise WorkspaceAlreadyExists() from exc
        raise


def _columns(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Changes as column values: a null list is an empty one, and `policies` (the ones it
    names; null for all three) lands in one column per policy."""
    columns: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "policies":
            named = dict.fromkeys(POLICIES) if value is None else value
            columns |= {f"policy_{name}": text for name, text in named.items()}
        elif key in ("payment_methods", "faq"):
            columns[key] = list(value or [])
        elif key == "tone":
            columns[key] = str(value)
        else:
            columns[key] = value
    return columns


async def _owned(uow: WorkspacesUnitOfWork, principal: Principal, workspace_id: UUID) -> Workspace:
    """The caller's workspace, locked for a write. Someone else's is simply not found."""
    workspace = await uow.workspaces.get(workspace_id, lock=True)
    if workspace is None or workspace.owner_id != caller_id(principal):
        raise WorkspaceNotFound()
    return workspace


async def create_workspace(
    uow: WorkspacesUnitOfWork, principal: Principal, data: NewWorkspace
) -> Workspace:
    owner_id = caller_id(principal)
    # Friendly answers for the common case; the unique constraints decide the races.
    if await uow.workspaces.get_for_owner(owner_id) is not None:
        raise WorkspaceAlreadyExists()
    if await uow.workspaces.handle_in_use(data.handle):
        raise HandleTaken(data.handle)
    workspace = Workspace(
        owner_id=owner_id,
        handle=data.handle,
        name=data.name,
        tone=data.tone.value,
        timezone=data.timezone,
        **_columns(data.facts),
    )
    uow.workspaces.add(workspace)
    await _flush(uow, data.handle)
    await uow.emit(workspace_event(WorkspaceCreatedV1, workspace))
    await uow.commit()
    return workspace


async def update_workspace(
    uow: WorkspacesUnitOfWork, principal: Principal, workspace_id: UUID, changes: WorkspaceChanges
) -> Workspace:
    workspace = await _owned(uow, principal, workspace_id)
    changed = {k: v for k, v in _columns(changes).items() if getattr(workspace, k) != v}
    if not changed:
        return workspace
    if "handle" in changed and await uow.workspaces.handle_in_use(changed["handle"]):
        raise HandleTaken(changed["handle"])
    for key, value in changed.items():
        setattr(workspace, key, value)
    # The old handle is free for anyone as soon as this commits: it lives in one row only.
    await _flush(uow, workspace.handle)
    await uow.emit(workspace_event(WorkspaceUpdatedV1, workspace))
    await uow.commit()
    return workspace


async def delete_workspace(
    uow: WorkspacesUnitOfWork, principal: Principal, workspace_id: UUID
) -> None:
    """Delete the workspace and its services; each leaves a deletion event."""
    workspace = await _owned(uow, principal, workspace_id)
    services, _ = await uow.services.list(workspace.id)
    for service in services:
        await uow.emit(service_deleted(service))
    await uow.emit(workspace_deleted(workspace))
    # The foreign key cascades to the services.
    await uow.workspaces.delete(workspace)
    await uow.session.flush()
    await uow.commit()


async def delete_user_workspace(uow: WorkspacesUnitOfWork, user_id: UUID) -> bool:
    """A user is gone: delete their workspace, acting as them. False when they had none.

    Does not commit by itself when there is nothing to delete, so a message handler can
    still commit its inbox record.
    """
    workspace = await uow.workspaces.get_for_owner(user_id)
    if workspace is None:
        return False
    try:
        await delete_workspace(uow, Principal(user_id=user_id), workspace.id)
    except WorkspaceNotFound:  # deleted by its owner meanwhile
        return False
    return True


# -- reads -----------------------------------------------------------------------------------


async def get_workspace(
    uow: WorkspacesUnitOfWork, principal: Principal, workspace_id: UUID
) -> Workspace:
    """Owners read their own workspace; superusers, who administer the platform, any."""
    user_id = caller_id(principal)
    workspace = await uow.workspaces.get(workspace_id)
    if workspace is None or (workspace.owner_id != user_id and not principal.is_superuser):
        raise WorkspaceNotFound()
    return workspace


async def get_my_workspace(uow: WorkspacesUnitOfWork, principal: Principal) -> Workspace:
    workspace = await uow.workspaces.get_for_owner(caller_id(principal))
    if workspace is None:
        raise WorkspaceNotFound("You have no workspace yet")
    return workspace


async def list_workspaces(
    uow: WorkspacesUnitOfWork, principal: Principal, *, q: str | None, skip: int, limit: int
) -> tuple[Sequence[Workspace], int]:
    """Superusers see every workspace; anyone else sees their own (at most one)."""
    user_id = caller_id(principal)
    owner_id = None if principal.is_superuser else user_id
    return await uow.workspaces.search(owner_id=owner_id, q=q, skip=skip, limit=limit)


@dataclass(frozen=True, slots=True)
class HandleAvailability:
    handle: str
    available: bool
    reason: str | None


async def check_handle(uow: WorkspacesUnitOfWork, handle: str) -> HandleAvailability:
    """For a signup form: an unusable handle is an answer with a reason, not an error."""
    problem = handle_problem(handle)
    if problem is None and await uow.workspaces.handle_in_use(handle):
        problem = "This handle is already taken"
    return HandleAvailability(handle=handle, available=problem is None, reason=problem)


async def get_public_workspace(uow: WorkspacesUnitOfWork, handle: str) -> Workspace:
    workspace = await uow.workspaces.get_by_handle(handle)
    if workspace is None:
        raise WorkspaceNotFound()
    return workspace
