from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.db.models import outbox
from shared.db import UnitOfWork


class ConnectorsUnitOfWork(UnitOfWork):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(sessionmaker, outbox, producer="connectors")

    def on_enter(self) -> None:
        """Repositories are built here on the fresh session."""
