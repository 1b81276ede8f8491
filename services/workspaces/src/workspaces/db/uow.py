from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import UnitOfWork
from workspaces.db.models import outbox


class WorkspacesUnitOfWork(UnitOfWork):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(sessionmaker, outbox, producer="workspaces")

    def on_enter(self) -> None:
        """Repositories are built here on the fresh session."""
