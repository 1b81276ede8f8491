from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from conversations.api.deps import UowDep
from conversations.api.schemas import ChannelAccountCreate, ChannelAccountRead
from conversations.domain.errors import ChannelAccountNotFound
from conversations.usecases.access import owner_workspace
from conversations.usecases.channel_accounts import add_channel_account, remove_channel_account
from shared.web import Page, PaginationDep, PrincipalDep

router = APIRouter(prefix="/channel-accounts", tags=["channel-accounts"])


@router.post("/", status_code=status.HTTP_201_CREATED, response_model=ChannelAccountRead)
async def create_channel_account(
    body: ChannelAccountCreate, principal: PrincipalDep, uow: UowDep
) -> ChannelAccountRead:
    """Route a provider account's inbound messages to the caller's workspace (409 if taken)."""
    account = await add_channel_account(uow, principal, body.channel, body.account_id, body.name)
    return ChannelAccountRead.model_validate(account)


@router.get("/", response_model=Page[ChannelAccountRead])
async def list_channel_accounts(
    principal: PrincipalDep, uow: UowDep, page: PaginationDep
) -> Page[ChannelAccountRead]:
    async with uow:
        workspace = await owner_workspace(uow, principal)
        rows, count = await uow.channel_accounts.page(workspace.id, page.skip, page.limit)
        return Page(data=[ChannelAccountRead.model_validate(r) for r in rows], count=count)


@router.get("/{account_id}", response_model=ChannelAccountRead)
async def read_channel_account(
    account_id: uuid.UUID, principal: PrincipalDep, uow: UowDep
) -> ChannelAccountRead:
    async with uow:
        workspace = await owner_workspace(uow, principal)
        account = await uow.channel_accounts.get(workspace.id, account_id)
        if account is None:
            raise ChannelAccountNotFound("Channel account not found")
        return ChannelAccountRead.model_validate(account)


@router.delete("/{account_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_channel_account(
    account_id: uuid.UUID, principal: PrincipalDep, uow: UowDep
) -> None:
    await remove_channel_account(uow, principal, account_id)
