from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status

from conversations.api.deps import UowDep
from conversations.api.schemas import (
    ChannelAccountCreate,
    ChannelAccountRead,
    ChannelAccountUpdate,
)
from conversations.domain.errors import ChannelAccountNotFound
from conversations.usecases.access import owner_workspace
from conversations.usecases.channel_accounts import (
    CredentialPolicy,
    add_channel_account,
    remove_channel_account,
    update_channel_account,
    view,
)
from shared.web import Page, PaginationDep, PrincipalDep

router = APIRouter(prefix="/channel-accounts", tags=["channel-accounts"])


def _policy(request: Request) -> CredentialPolicy:
    policy: CredentialPolicy = request.app.state.credential_policy
    return policy


@router.post("/", status_code=status.HTTP_201_CREATED, response_model=ChannelAccountRead)
async def create_channel_account(
    body: ChannelAccountCreate, principal: PrincipalDep, uow: UowDep, request: Request
) -> ChannelAccountRead:
    """Route a provider account's inbound messages to the caller's workspace (409 if taken),
    and, with `credentials`, send replies from it."""
    created = await add_channel_account(
        uow,
        principal,
        body.channel,
        body.account_id,
        body.name,
        body.credentials,
        _policy(request),
    )
    return ChannelAccountRead.of(created)


@router.get("/", response_model=Page[ChannelAccountRead])
async def list_channel_accounts(
    principal: PrincipalDep, uow: UowDep, page: PaginationDep, request: Request
) -> Page[ChannelAccountRead]:
    vault = _policy(request).vault
    async with uow:
        workspace = await owner_workspace(uow, principal)
        rows, count = await uow.channel_accounts.page(workspace.id, page.skip, page.limit)
        return Page(data=[ChannelAccountRead.of(view(r, vault)) for r in rows], count=count)


@router.get("/{account_id}", response_model=ChannelAccountRead)
async def read_channel_account(
    account_id: uuid.UUID, principal: PrincipalDep, uow: UowDep, request: Request
) -> ChannelAccountRead:
    async with uow:
        workspace = await owner_workspace(uow, principal)
        account = await uow.channel_accounts.get(workspace.id, account_id)
        if account is None:
            raise ChannelAccountNotFound("Channel account not found")
        return ChannelAccountRead.of(view(account, _policy(request).vault))


@router.patch("/{account_id}", response_model=ChannelAccountRead)
async def patch_channel_account(
    account_id: uuid.UUID,
    body: ChannelAccountUpdate,
    principal: PrincipalDep,
    uow: UowDep,
    request: Request,
) -> ChannelAccountRead:
    """Rename, or change credentials: fields not sent keep their values (secrets too)."""
    changes = body.model_dump(exclude_unset=True)
    updated = await update_channel_account(uow, principal, account_id, changes, _policy(request))
    return ChannelAccountRead.of(updated)


@router.delete("/{account_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_channel_account(
    account_id: uuid.UUID, principal: PrincipalDep, uow: UowDep
) -> None:
    await remove_channel_account(uow, principal, account_id)
