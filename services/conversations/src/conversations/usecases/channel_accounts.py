"""Channel accounts: which provider account routes inbound messages to which workspace."""

from __future__ import annotations

import uuid

from conversations.db.models import ChannelAccount
from conversations.db.uow import ConversationsUnitOfWork
from conversations.domain.errors import ChannelAccountNotFound, ChannelAccountTaken
from conversations.usecases.access import owner_workspace
from shared.tokens import Principal


async def add_channel_account(
    uow: ConversationsUnitOfWork,
    principal: Principal,
    channel: str,
    account_id: str,
    name: str | None,
) -> ChannelAccount:
    async with uow:
        workspace = await owner_workspace(uow, principal)
        account = ChannelAccount(
            id=uuid.uuid4(),
            workspace_id=workspace.id,
            channel=channel,
            account_id=account_id,
            name=name,
        )
        if not await uow.channel_accounts.add(account):
            raise ChannelAccountTaken(
                f"The {channel} account {account_id!r} is already connected to a workspace"
            )
        await uow.commit()
        return account


async def remove_channel_account(
    uow: ConversationsUnitOfWork, principal: Principal, account_id: uuid.UUID
) -> None:
    async with uow:
        workspace = await owner_workspace(uow, principal)
        account = await uow.channel_accounts.get(workspace.id, account_id)
        if account is None:
            raise ChannelAccountNotFound("Channel account not found")
        await uow.channel_accounts.delete(account)
        await uow.commit()
