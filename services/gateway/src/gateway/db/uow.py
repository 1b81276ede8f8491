from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.models import outbox
from gateway.db.repositories import ThrottleRepository, UserRepository
from shared.db import UnitOfWork


class IdentityUnitOfWork(UnitOfWork):
    users: UserRepository
    throttle: ThrottleRepository

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(sessionmaker, outbox, producer="gateway")

    def on_enter(self) -> None:
        self.users = UserRepository(self.session)
        self.throttle = ThrottleRepository(self.session)
