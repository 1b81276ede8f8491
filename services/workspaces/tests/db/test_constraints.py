"""The database decides races: a unique violation becomes the right 409, never a 500.

The friendly pre-checks are switched off here so the insert really hits the constraint,
as it does when two requests pass the pre-check at the same moment.
"""

import uuid

import pytest

from shared.tokens import Principal
from workspaces.db.repositories import WorkspaceRepository
from workspaces.db.uow import WorkspacesUnitOfWork
from workspaces.domain.errors import HandleTaken, WorkspaceAlreadyExists
from workspaces.domain.inputs import NewWorkspace, WorkspaceChanges
from workspaces.domain.settings import Tone
from workspaces.usecases.workspaces import create_workspace, update_workspace


@pytest.fixture
def prechecks_miss(monkeypatch) -> None:
    async def nobody(*_: object, **__: object) -> None:
        return None

    async def free(*_: object, **__: object) -> bool:
        return False

    monkeypatch.setattr(WorkspaceRepository, "get_for_owner", nobody)
    monkeypatch.setattr(WorkspaceRepository, "handle_in_use", free)


def draft(handle: str) -> NewWorkspace:
    return NewWorkspace(handle=handle, name="Racer", tone=Tone.FRIENDLY, timezone="UTC")


async def test_insert_losing_on_the_handle_constraint_is_handle_taken(
    runtime, new_workspace, prechecks_miss
) -> None:
    _, ws = await new_workspace()
    async with WorkspacesUnitOfWork(runtime.sessionmaker) as uow:
        with pytest.raises(HandleTaken):
            await create_workspace(uow, Principal(uuid.uuid4()), draft(ws["handle"]))
        assert uow.emitted == []


async def test_insert_losing_on_the_owner_constraint_is_workspace_already_exists(
    runtime, new_workspace, prechecks_miss
) -> None:
    _, ws = await new_workspace()
    owner = Principal(uuid.UUID(ws["owner_id"]))
    async with WorkspacesUnitOfWork(runtime.sessionmaker) as uow:
        with pytest.raises(WorkspaceAlreadyExists):
            await create_workspace(uow, owner, draft(f"fresh-{uuid.uuid4().hex[:8]}"))


async def test_handle_change_losing_on_the_constraint_is_handle_taken(
    runtime, new_workspace, prechecks_miss, outbox_rows
) -> None:
    _, taken = await new_workspace()
    _, ws = await new_workspace()
    owner = Principal(uuid.UUID(ws["owner_id"]))
    async with WorkspacesUnitOfWork(runtime.sessionmaker) as uow:
        with pytest.raises(HandleTaken):
            await update_workspace(
                uow, owner, uuid.UUID(ws["id"]), WorkspaceChanges(handle=taken["handle"])
            )
    assert [r.event_type for r in await outbox_rows(ws["id"])] == ["workspace.created"]
