"""Queries over the workspaces schema. Repositories hold the session; they never commit."""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from workspaces.db.models import Workspace, WorkspaceService


def _contains(text: str) -> str:
    """An ILIKE pattern matching `text` literally (its % and _ are not wildcards)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class WorkspaceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, workspace_id: UUID, *, lock: bool = False) -> Workspace | None:
        stmt = select(Workspace).where(Workspace.id == workspace_id)
        if lock:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def get_for_owner(self, owner_id: UUID, *, lock: bool = False) -> Workspace | None:
        stmt = select(Workspace).where(Workspace.owner_id == owner_id)
        if lock:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def get_by_handle(self, handle: str) -> Workspace | None:
        return await self.session.scalar(select(Workspace).where(Workspace.handle == handle))

    async def handle_in_use(self, handle: str) -> bool:
        stmt = select(func.count()).select_from(Workspace).where(Workspace.handle == handle)
        return bool(await self.session.scalar(stmt))

    async def search(
        self, *, owner_id: UUID | None, q: str | None, skip: int, limit: int
    ) -> tuple[Sequence[Workspace], int]:
        """A page of workspaces (all of them when `owner_id` is None) and the total match."""
        where = []
        if owner_id is not None:
            where.append(Workspace.owner_id == owner_id)
        if q:
            where.append(Workspace.handle.ilike(_contains(q), escape="\\"))
        count = await self.session.scalar(select(func.count()).select_from(Workspace).where(*where))
        rows = await self.session.scalars(
            select(Workspace)
            .where(*where)
            .order_by(Workspace.created_at, Workspace.id)
            .offset(skip)
            .limit(limit)
        )
        return rows.all(), count or 0

    def add(self, workspace: Workspace) -> None:
        self.session.add(workspace)

    async def delete(self, workspace: Workspace) -> None:
        await self.session.delete(workspace)


class ServiceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, service_id: UUID, workspace_id: UUID) -> WorkspaceService | None:
        """The service only if it belongs to that workspace: ownership is part of the key."""
        return await self.session.scalar(
            select(WorkspaceService).where(
                WorkspaceService.id == service_id,
                WorkspaceService.workspace_id == workspace_id,
            )
        )

    async def list(
        self,
        workspace_id: UUID,
        *,
        active: bool | None = None,
        skip: int = 0,
        limit: int | None = None,
    ) -> tuple[Sequence[WorkspaceService], int]:
        where = [WorkspaceService.workspace_id == workspace_id]
        if active is not None:
            where.append(WorkspaceService.is_active.is_(active))
        count = await self.session.scalar(
            select(func.count()).select_from(WorkspaceService).where(*where)
        )
        rows = await self.session.scalars(
            select(WorkspaceService)
            .where(*where)
            .order_by(WorkspaceService.position)
            .offset(skip)
            .limit(limit)
        )
        return rows.all(), count or 0

    async def next_position(self, workspace_id: UUID) -> int:
        stmt = select(func.coalesce(func.max(WorkspaceService.position) + 1, 0)).where(
            WorkspaceService.workspace_id == workspace_id
        )
        return int(await self.session.scalar(stmt) or 0)

    def add(self, service: WorkspaceService) -> None:
        self.session.add(service)

    async def delete(self, service: WorkspaceService) -> None:
        await self.session.delete(service)
