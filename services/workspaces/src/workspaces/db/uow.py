from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import UnitOfWork
from workspaces.db.models import outbox
from workspaces.db.repositories import ServiceRepository, WorkspaceRepository


class WorkspacesUnitOfWork(UnitOfWork):
    workspaces: WorkspaceRepository
    services: ServiceRepository

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(sessionmaker, outbox, producer="workspaces")

    def on_enter(self) -> None:
        self.workspaces = WorkspaceRepository(self.session)
        self.services = ServiceRepository(self.session)
