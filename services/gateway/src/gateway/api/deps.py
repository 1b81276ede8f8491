"""Dependency aliases for the gateway's own routes."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from gateway.db.uow import IdentityUnitOfWork
from gateway.emails import EmailSender
from gateway.security import InvalidToken, PasswordHasher, TokenIssuer
from gateway.settings import Settings
from shared.logging import user_id_var

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/login/access-token", auto_error=False)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_uow(request: Request) -> IdentityUnitOfWork:
    return IdentityUnitOfWork(request.app.state.runtime.sessionmaker)


async def get_hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.hasher
    return hasher


async def get_tokens(request: Request) -> TokenIssuer:
    tokens: TokenIssuer = request.app.state.tokens
    return tokens


async def get_emails(request: Request) -> EmailSender:
    sender: EmailSender = request.app.state.emails
    return sender


SettingsDep = Annotated[Settings, Depends(get_settings)]
UowDep = Annotated[IdentityUnitOfWork, Depends(get_uow)]
HasherDep = Annotated[PasswordHasher, Depends(get_hasher)]
TokensDep = Annotated[TokenIssuer, Depends(get_tokens)]
EmailsDep = Annotated[EmailSender, Depends(get_emails)]


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated user, as the gateway needs it on every request."""

    id: uuid.UUID
    email: str
    is_superuser: bool
    token_version: int = 0


class CallerCache:
    """Who a token's subject is, remembered for a few seconds.

    Every forwarded request needs the user's active and superuser flags; reading them from
    Postgres each time would double the cost of a cheap read. Changes made through this
    gateway invalidate at once; other instances see them within `ttl` seconds, which bounds
    how long a revoked token (password changed, account deactivated or deleted) still works
    on another instance.
    """

    def __init__(self, ttl: float = 5.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[uuid.UUID, tuple[float, Caller | None]] = {}

    def get(self, user_id: uuid.UUID) -> tuple[bool, Caller | None]:
        entry = self._entries.get(user_id)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, user_id: uuid.UUID, caller: Caller | None) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[user_id] = (time.monotonic() + self.ttl, caller)

    def forget(self, user_id: uuid.UUID) -> None:
        self._entries.pop(user_id, None)


CREDENTIALS_ERROR = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED,
    detail="Could not validate credentials",
    headers={"WWW-Authenticate": "Bearer"},
)


async def authenticate_request(request: Request, token: str | None) -> Caller:
    """Resolve a bearer access token to an active user, or raise 401/400."""
    if not token:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Not authenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        user_id, version = request.app.state.tokens.read_access_token(token)
    except InvalidToken:
        raise CREDENTIALS_ERROR from None
    cache: CallerCache = request.app.state.callers
    known, caller = cache.get(user_id)
    if not known:
        async with IdentityUnitOfWork(request.app.state.runtime.sessionmaker) as uow:
            user = await uow.users.get(user_id)
            caller = (
                Caller(user.id, user.email, user.is_superuser, user.token_version)
                if user is not None and user.is_active
                else None
            )
        cache.put(user_id, caller)
    if caller is None or caller.token_version != version:
        raise CREDENTIALS_ERROR  # unknown, inactive, or a token revoked by a newer version
    user_id_var.set(str(caller.id))  # for the access line and anything logged after
    return caller


async def current_caller(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Caller:
    return await authenticate_request(request, token)


async def current_superuser(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
    if not caller.is_superuser:
        raise HTTPException(status_code=403, detail="The user doesn't have enough privileges")
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]
CurrentSuperuser = Annotated[Caller, Depends(current_superuser)]
