from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from gateway.api.deps import (
    CallerCache,
    CurrentCaller,
    EmailsDep,
    HasherDep,
    SettingsDep,
    TokensDep,
    UowDep,
)
from gateway.api.schemas import Message, NewPassword, PasswordRecovery, Token, UserPublic
from gateway.domain.errors import UserNotFound
from gateway.usecases import users

router = APIRouter(tags=["login"])

RECOVERY_MESSAGE = "If that address has an account, a password recovery e-mail is on its way"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/login/access-token")
async def login_access_token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    uow: UowDep,
    hasher: HasherDep,
    tokens: TokensDep,
    settings: SettingsDep,
) -> Token:
    """OAuth2 password flow: `username` is the e-mail. Failures are throttled (429)."""
    policy = users.LoginPolicy(
        max_failures=settings.login_max_failures,
        max_failures_per_address=settings.login_max_failures_per_address,
        window=timedelta(seconds=settings.login_window_seconds),
        max_failures_per_account=settings.login_max_failures_per_account,
        slowdown=timedelta(seconds=settings.login_slowdown_seconds),
    )
    user = await users.authenticate(
        uow, hasher, policy, form.username, form.password, client_address(request)
    )
    return Token(access_token=tokens.access_token(user.id, user.token_version))


@router.post("/login/test-token")
async def test_token(caller: CurrentCaller, uow: UowDep) -> UserPublic:
    """Check an access token; answers the user it belongs to."""
    async with uow:
        user = await uow.users.get(caller.id)
        if user is None:
            raise UserNotFound()
        return UserPublic.model_validate(user)


async def _recover(
    request: Request,
    email: str,
    uow: UowDep,
    tokens: TokensDep,
    emails: EmailsDep,
    settings: SettingsDep,
    background: BackgroundTasks,
) -> Message:
    policy = users.RecoveryPolicy(
        per_address=settings.password_recovery_per_address_per_hour,
        per_client=settings.password_recovery_per_client_per_hour,
    )
    found = await users.start_password_recovery(uow, tokens, email, client_address(request), policy)
    if found is not None:
        address, token = found
        background.add_task(emails.send, emails.reset_password(address, token))
    return Message(message=RECOVERY_MESSAGE)


@router.post("/password-recovery", responses={429: {"description": "Too many requests"}})
async def recover_password(
    body: PasswordRecovery,
    request: Request,
    uow: UowDep,
    tokens: TokensDep,
    emails: EmailsDep,
    settings: SettingsDep,
    background: BackgroundTasks,
) -> Message:
    """E-mail a password reset link. The same answer whether or not the address has an
    account (and whether or not e-mail is set up). At most
    PASSWORD_RECOVERY_PER_ADDRESS_PER_HOUR requests per address and
    PASSWORD_RECOVERY_PER_CLIENT_PER_HOUR per client address: beyond, 429 with Retry-After."""
    return await _recover(request, body.email, uow, tokens, emails, settings, background)


@router.post(
    "/password-recovery/{email}",
    deprecated=True,
    responses={429: {"description": "Too many requests"}},
)
async def recover_password_by_path(
    email: str,
    request: Request,
    uow: UowDep,
    tokens: TokensDep,
    emails: EmailsDep,
    settings: SettingsDep,
    background: BackgroundTasks,
) -> Message:
    """Deprecated: `POST /password-recovery` with `{"email"}` instead (an address in a path
    ends up in logs along the way). Same answer, same limits."""
    request.state.log_path = "/api/v1/password-recovery/{email}"  # keep it out of our log
    return await _recover(request, email, uow, tokens, emails, settings, background)


@router.post("/reset-password/")
async def reset_password(
    body: NewPassword, request: Request, uow: UowDep, hasher: HasherDep, tokens: TokensDep
) -> Message:
    user_id = await users.reset_password(uow, hasher, tokens, body.token, body.new_password)
    cache: CallerCache = request.app.state.callers
    cache.forget(user_id)
    return Message(message="Password updated successfully")
