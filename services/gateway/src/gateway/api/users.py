from __future__ import annotations

import uuid

from fastapi import APIRouter, BackgroundTasks, Request

from gateway.api.deps import (
    CallerCache,
    CurrentCaller,
    CurrentSuperuser,
    EmailsDep,
    HasherDep,
    UowDep,
)
from gateway.api.schemas import (
    Message,
    UpdatePassword,
    UserCreate,
    UserPublic,
    UserRegister,
    UsersPublic,
    UserUpdate,
    UserUpdateMe,
)
from gateway.domain.errors import UserNotFound
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
    user = await users.update_user(uow, hasher, caller.id, body.model_dump(exclude_unset=True))
    _forget(request, caller.id)
    return UserPublic.model_validate(user)


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
