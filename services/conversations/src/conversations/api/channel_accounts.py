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
    inbound_secret,
    remove_channel_account,
    rotate_inbound_secret,
    update_channel_account,
    verify_channel_account,
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
    """Claim a provider account for the caller's workspace: with `credentials`, replies are
    sent from it and, once the provider confirms the credentials reach it (`verification`),
    its inbound messages route here. 409 when another workspace has verified it."""
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


@router.post("/{account_id}/verify", response_model=ChannelAccountRead)
async def verify_channel_account_route(
    account_id: uuid.UUID, principal: PrincipalDep, uow: UowDep, request: Request
) -> ChannelAccountRead:
    """Ask the provider again whether the stored credentials reach this account."""
    verified = await verify_channel_account(uow, principal, account_id, _policy(request))
    return ChannelAccountRead.of(verified)


@router.post("/{account_id}/rotate-secret", response_model=ChannelAccountRead)
async def rotate_channel_account_secret(
    account_id: uuid.UUID, principal: PrincipalDep, uow: UowDep, request: Request
) -> ChannelAccountRead:
    """chatgpt, phone: a new `inbound_signing_secret`, shown once in this answer; the old one
    stops working within INBOUND_SECRET_CACHE_SECONDS (the gateway's cache)."""
    rotated = await rotate_inbound_secret(uow, principal, account_id, _policy(request))
    return ChannelAccountRead.of(rotated)


@router.delete("/{account_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_channel_account(
    account_id: uuid.UUID, principal: PrincipalDep, uow: UowDep
) -> None:
    await remove_channel_account(uow, principal, account_id)


# Never forwarded by the gateway (it has no route to /api/v1/internal/); like every route
# here it needs an internal token. The gateway asks it to check an integrator's signature.
internal_router = APIRouter(
    prefix="/internal/channel-accounts", tags=["internal"], include_in_schema=False
)


@internal_router.get("/{account_id}/inbound-secret")
async def read_inbound_secret(
    account_id: uuid.UUID, principal: PrincipalDep, uow: UowDep, request: Request
) -> dict[str, str]:
    if not principal.is_anonymous:  # the gateway asks as nobody; an owner never gets here
        raise ChannelAccountNotFound("Channel account not found")
    found = await inbound_secret(uow, account_id, _policy(request).vault)
    if found is None:
        raise ChannelAccountNotFound("Channel account not found")
    return {
        "id": str(found.id),
        "workspace_id": str(found.workspace_id),
        "channel": found.channel,
        "account_id": found.account_id,
        "secret": found.secret,
    }
