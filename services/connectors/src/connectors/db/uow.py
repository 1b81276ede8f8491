from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.db.models import outbox
from connectors.db.repositories import (
    BookingRepository,
    ConnectorRepository,
    ServiceRepository,
    WebhookReceiptRepository,
    WorkspaceRepository,
)
from shared.db import UnitOfWork


class ConnectorsUnitOfWork(UnitOfWork):
    workspaces: WorkspaceRepository
    connectors: ConnectorRepository
    bookings: BookingRepository
    services: ServiceRepository
    webhooks: WebhookReceiptRepository

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(sessionmaker, outbox, producer="connectors")

    def on_enter(self) -> None:
        self.workspaces = WorkspaceRepository(self.session)
        self.connectors = ConnectorRepository(self.session)
        self.bookings = BookingRepository(self.session)
        self.services = ServiceRepository(self.session)
        self.webhooks = WebhookReceiptRepository(self.session)
