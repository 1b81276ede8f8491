from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from connectors.db.uow import ConnectorsUnitOfWork
from connectors.providers import ProviderFactory
from connectors.settings import Settings
from shared.crypto import Vault
from shared.runtime import Runtime
from shared.tokens import Principal
from shared.web import get_principal


@dataclass(frozen=True)
class Services:
    """What routes need, built once per app in `create_app`."""

    settings: Settings
    runtime: Runtime
    vault: Vault
    providers: ProviderFactory

    def uow(self) -> ConnectorsUnitOfWork:
        return ConnectorsUnitOfWork(self.runtime.sessionmaker)


# Dependencies are coroutines: FastAPI runs a plain function in its thread pool, a thread hop
# per request for a dictionary lookup (about a tenth of an availability call's CPU).
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_user(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if principal.user_id is None:
        raise HTTPException(status_code=401, detail="Sign in to manage connectors")
    return principal


ServicesDep = Annotated[Services, Depends(get_services)]
UserDep = Annotated[Principal, Depends(get_user)]
