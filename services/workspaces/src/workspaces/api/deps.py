"""Dependencies the routers share."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from shared.tokens import Principal
from shared.web import PrincipalDep
from workspaces.db.uow import WorkspacesUnitOfWork


async def get_uow(request: Request) -> AsyncIterator[WorkspacesUnitOfWork]:
    async with WorkspacesUnitOfWork(request.app.state.runtime.sessionmaker) as uow:
        yield uow


async def get_owner(principal: PrincipalDep) -> Principal:
    """Owner routes act for a signed-in user; public (anonymous) traffic stops here."""
    if principal.is_anonymous:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Not authenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


UowDep = Annotated[WorkspacesUnitOfWork, Depends(get_uow)]
OwnerDep = Annotated[Principal, Depends(get_owner)]
