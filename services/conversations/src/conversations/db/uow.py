from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations.db.contacts import ContactsRepository
from conversations.db.models import outbox
from conversations.db.repositories import (
    ChannelAccountRepository,
    ConversationRepository,
    MessageRepository,
    UnroutedRepository,
    WorkspaceRepository,
)
from shared.db import UnitOfWork


class ConversationsUnitOfWork(UnitOfWork):
    workspaces: WorkspaceRepository
    channel_accounts: ChannelAccountRepository
    conversations: ConversationRepository
    messages: MessageRepository
    unrouted: UnroutedRepository
    contacts: ContactsRepository

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(sessionmaker, outbox, producer="conversations")

    def on_enter(self) -> None:
        self.workspaces = WorkspaceRepository(self.session)
        self.channel_accounts = ChannelAccountRepository(self.session)
        self.conversations = ConversationRepository(self.session)
        self.messages = MessageRepository(self.session)
        self.unrouted = UnroutedRepository(self.session)
        self.contacts = ContactsRepository(self.session, self.emit)
