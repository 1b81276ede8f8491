from __future__ import annotations

import uuid

from fastapi import APIRouter, BackgroundTasks, Request

from gateway.api.deps import (
    CallerCache,
    CurrentCaller,
    CurrentSuperuser,
    EmailsDep,
    HasherDep,
    TokensDep,
    UowDep,
)
from gateway.api.schemas import (
    EmailChange,
    EmailConfirmation,
    Message,
    UpdatePassword,
    UserCreate,
    UserPublic,
    UserRegister,
    UsersPublic,
    UserUpdate,
    UserUpdateMe,
)
from gateway.domain.errors import EmailChangeNeedsPassword, UserNotFound
from gateway.usecases import users
from shared.web import PaginationDep

router = APIRouter(prefix="/users", tags=["users"])


def _forget(request: Request, user_id: uuid.UUID) -> None:
    cache: CallerCache = request.app.state.callers
    cache.forget(user_id)


@router.get("/")
async def list_users(_: CurrentSuperuser, uow: UowDep, page: PaginationDep) -> UsersPublic:
    async with uow:
        rows, count = await uow.users.list(page.skip, page.limit)
        return UsersPublic(data=[UserPublic.model_validate(u) for u in rows], count=count)


@router.post("/", status_code=201)
async def create_user(
    body: UserCreate,
    _: CurrentSuperuser,
    uow: UowDep,
    hasher: HasherDep,
    emails: EmailsDep,
    background: BackgroundTasks,
) -> UserPublic:
    fields = body.model_dump(exclude={"email", "password"}, exclude_none=True)
    user = await users.register_user(uow, hasher, body.email, body.password, fields)
    background.add_task(emails.send, emails.new_account(user.email))
    return UserPublic.model_validate(user)


@router.post("/signup", status_code=201)
async def signup(
    body: UserRegister,
    uow: UowDep,
    hasher: HasherDep,
    emails: EmailsDep,
    background: BackgroundTasks,
) -> UserPublic:
    """Open sign-up for business owners."""
    user = await users.register_user(
        uow, hasher, body.email, body.password, {"full_name": body.full_name}
    )
    background.add_task(emails.send, emails.new_account(user.email))
    return UserPublic.model_validate(user)


@router.get("/me")
async def read_me(caller: CurrentCaller, uow: UowDep) -> UserPublic:
    async with uow:
        user = await uow.users.get(caller.id)
        if user is None:
            raise UserNotFound()
        return UserPublic.model_validate(user)


@router.patch("/me")
async def update_me(
    body: UserUpdateMe, caller: CurrentCaller, uow: UowDep, hasher: HasherDep, request: Request
) -> UserPublic:
    """Profile fields. `email` is accepted only unchanged: see `POST /users/me/email`."""
    changes = body.model_dump(exclude_unset=True)
    email = changes.pop("email", None)
    if email is not None and email.lower() != caller.email.lower():
        raise EmailChangeNeedsPassword()
    user = await users.update_user(uow, hasher, caller.id, changes)
    _forget(request, caller.id)
    return UserPublic.model_validate(user)


@router.post("/me/email", status_code=202)
async def change_email_me(
    body: EmailChange,
    caller: CurrentCaller,
    uow: UowDep,
    hasher: HasherDep,
    tokens: TokensDep,
    emails: EmailsDep,
    background: BackgroundTasks,
) -> Message:
    """Ask to change the account's e-mail: with the current password. A link goes to the new
    address and a notice to the current one; the change applies only when the link's token
    is presented (`POST /users/email-confirmation`), and then every session ends."""
    asked = await users.request_email_change(
        uow, hasher, tokens, caller.id, body.new_email, body.current_password
    )
    background.add_task(emails.send, emails.email_change_confirmation(asked.new_email, asked.token))
    background.add_task(
        emails.send, emails.email_change_notice(asked.old_email, asked.new_email, applied=False)
    )
    return Message(message=f"To finish, open the link sent to {asked.new_email}")


@router.post("/email-confirmation")
async def confirm_email(
    body: EmailConfirmation,
    uow: UowDep,
    tokens: TokensDep,
    emails: EmailsDep,
    background: BackgroundTasks,
    request: Request,
) -> Message:
    """Apply an e-mail change with the token from the link sent to the new address (no
    sign-in needed: the token is the proof). Every session of the account ends; the old
    address is told."""
    changed = await users.confirm_email_change(uow, tokens, body.token)
    _forget(request, changed.user_id)
    background.add_task(
        emails.send, emails.email_change_notice(changed.old_email, changed.new_email, applied=True)
    )
    return Message(message="E-mail changed; sign in again with the new address")


@router.patch("/me/password")
async def update_password_me(
    body: UpdatePassword,
    caller: CurrentCaller,
    uow: UowDep,
    hasher: HasherDep,
    request: Request,
) -> Message:
    """Every access token of this user, this one included, stops working: log in again."""
    await users.change_password(uow, hasher, caller.id, body.current_password, body.new_password)
    _forget(request, caller.id)
    return Message(message="Password updated successfully")


@router.delete("/me")
async def delete_me(caller: CurrentCaller, uow: UowDep, request: Request) -> Message:
    await users.delete_user(uow, caller.id, actor_id=caller.id)
    _forget(request, caller.id)
    return Message(message="User deleted successfully")


@router.get("/{user_id}")
async def read_user(user_id: uuid.UUID, caller: CurrentCaller, uow: UowDep) -> UserPublic:
    """A user may read themself; superusers anyone. Anyone else's id is a 404."""
    user = await users.read_user(uow, caller.id, caller.is_superuser, user_id)
    return UserPublic.model_validate(user)


@router.patch("/{user_id}")
async def update_user(
    user_id: uuid.UUID,
    body: UserUpdate,
    _: CurrentSuperuser,
    uow: UowDep,
    hasher: HasherDep,
    request: Request,
) -> UserPublic:
    user = await users.update_user(uow, hasher, user_id, body.model_dump(exclude_unset=True))
    _forget(request, user_id)
    return UserPublic.model_validate(user)


@router.delete("/{user_id}")
async def delete_user(
    user_id: uuid.UUID, caller: CurrentSuperuser, uow: UowDep, request: Request
) -> Message:
    await users.delete_user(uow, user_id, actor_id=caller.id)
    _forget(request, user_id)
    return Message(message="User deleted successfully")
