"""Identity use cases: the only place identity writes happen. HTTP and startup call these."""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from gateway.db.models import User
from gateway.db.uow import IdentityUnitOfWork
from gateway.domain.errors import (
    EmailTaken,
    InactiveUser,
    IncorrectCredentials,
    IncorrectPassword,
    InvalidEmailChangeToken,
    InvalidResetToken,
    SameEmail,
    SamePassword,
    SuperuserSelfDelete,
    TooManyAttempts,
    TooManyRecoveryRequests,
    UserNotFound,
)
from gateway.security import (
    InvalidToken,
    PasswordHasher,
    TokenIssuer,
    email_fingerprint_matches,
    password_fingerprint_matches,
)
from shared.events import UserCreatedV1, UserDeletedV1

# Fields whose "empty" is a value rather than NULL: null clears them to that value.
CLEARED_TO: dict[str, Any] = {"social_links": dict}


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int
    max_failures_per_address: int
    window: timedelta
    max_failures_per_account: int = 50
    slowdown: timedelta = timedelta(seconds=2)

    def limits(self, email: str, address: str) -> dict[str, tuple[int, timedelta]]:
        """Throttle key -> (failures allowed, how long one more failure then locks it).

        Only the account-at-this-address key locks for the whole window; the wider keys
        slow attempts down, so guessing stays throttled but nobody else is locked out.
        """
        return {
            _throttle_key(f"pair:{email}|{address}"): (self.max_failures, self.window),
            _throttle_key(f"address:{address}"): (self.max_failures_per_address, self.slowdown),
            _throttle_key(f"account:{email}"): (self.max_failures_per_account, self.slowdown),
        }


def _throttle_key(key: str) -> str:
    # A login form's username has no length limit; the key column has.
    if len(key) <= 200:
        return key
    kind, _, rest = key.partition(":")
    return f"{kind}:sha256:{hashlib.sha256(rest.encode()).hexdigest()}"


async def register_user(
    uow: IdentityUnitOfWork,
    hasher: PasswordHasher,
    email: str,
    password: str,
    fields: dict[str, Any],
) -> User:
    email = email.lower()
    async with uow:
        if await uow.users.get_by_email(email) is not None:
            raise EmailTaken()
        user = User(
            id=uuid.uuid4(),
            email=email,
            hashed_password=await hasher.hash(password),
            social_links={},
            **fields,
        )
        uow.users.add(user)
        try:
            await uow.session.flush()
        except IntegrityError as exc:  # a concurrent signup with the same address
            raise EmailTaken() from exc
        await uow.emit(UserCreatedV1(user_id=user.id, email=user.email, full_name=user.full_name))
        await uow.commit()
        return user


async def authenticate(
    uow: IdentityUnitOfWork,
    hasher: PasswordHasher,
    policy: LoginPolicy,
    email: str,
    password: str,
    address: str,
) -> User:
    """Check a password, throttling failures per account and client address (see LoginPolicy)."""
    email = email.lower()
    limits = policy.limits(email, address)
    keys = list(limits)
    now = datetime.now(UTC)
    async with uow:
        locked = await uow.throttle.locked_until(keys, now)
        if locked is not None:
            raise TooManyAttempts(max(1, int((locked - now).total_seconds()) + 1))
        user = await uow.users.get_by_email(email)
        ok = await hasher.verify(user.hashed_password if user else None, password)
        if not ok or user is None:
            for key, (limit, lock_for) in limits.items():
                await uow.throttle.record_failure(key, now, policy.window, limit, lock_for)
            await uow.commit()
            raise IncorrectCredentials()
        if not user.is_active:
            raise InactiveUser()
        await uow.throttle.clear(keys[0])  # this account at this address starts afresh
        if hasher.needs_rehash(user.hashed_password):
            user.hashed_password = await hasher.hash(password)
        await uow.commit()
        return user


async def update_user(
    uow: IdentityUnitOfWork,
    hasher: PasswordHasher,
    user_id: uuid.UUID,
    changes: dict[str, Any],
) -> User:
    async with uow:
        user = await uow.users.get(user_id)
        if user is None:
            raise UserNotFound()
        if "email" in changes and changes["email"] is not None:
            changes["email"] = changes["email"].lower()
            other = await uow.users.get_by_email(changes["email"])
            if other is not None and other.id != user.id:
                raise EmailTaken()
        if changes.get("email") is not None and changes["email"] != user.email.lower():
            user.token_version += 1  # sessions signed in under the old address end
        if "password" in changes:
            password = changes.pop("password")
            if password is not None:
                user.hashed_password = await hasher.hash(password)
                user.token_version += 1
        if changes.get("is_active") is False and user.is_active:
            user.token_version += 1  # reactivating later must not revive old tokens
        for field, value in changes.items():
            if value is None and field in CLEARED_TO:
                value = CLEARED_TO[field]()
            elif value is None and not User.__table__.c[field].nullable:
                continue  # a column that cannot be empty: None means "leave as is"
            setattr(user, field, value)
        try:
            await uow.session.flush()
        except IntegrityError as exc:
            raise EmailTaken() from exc
        await uow.commit()
        return user


async def change_password(
    uow: IdentityUnitOfWork,
    hasher: PasswordHasher,
    user_id: uuid.UUID,
    current_password: str,
    new_password: str,
) -> None:
    if current_password == new_password:
        raise SamePassword()
    async with uow:
        user = await uow.users.get(user_id)
        if user is None:
            raise UserNotFound()
        if not await hasher.verify(user.hashed_password, current_password):
            raise IncorrectPassword()
        user.hashed_password = await hasher.hash(new_password)
        user.token_version += 1  # every session signed in with the old password ends
        await uow.commit()


@dataclass(frozen=True)
class EmailChangeRequested:
    old_email: str
    new_email: str
    token: str


async def request_email_change(
    uow: IdentityUnitOfWork,
    hasher: PasswordHasher,
    tokens: TokenIssuer,
    user_id: uuid.UUID,
    new_email: str,
    current_password: str,
) -> EmailChangeRequested:
    """Check the password and issue the confirmation the new address must present; nothing
    changes until it does (`confirm_email_change`)."""
    new_email = new_email.lower()
    async with uow:
        user = await uow.users.get(user_id)
        if user is None:
            raise UserNotFound()
        if not await hasher.verify(user.hashed_password, current_password):
            raise IncorrectPassword()
        if new_email == user.email.lower():
            raise SameEmail()
        if await uow.users.get_by_email(new_email) is not None:
            raise EmailTaken()
        token = tokens.email_change_token(user.id, user.email, new_email, user.token_version)
        return EmailChangeRequested(user.email, new_email, token)


@dataclass(frozen=True)
class EmailChanged:
    user_id: uuid.UUID
    old_email: str
    new_email: str


async def confirm_email_change(
    uow: IdentityUnitOfWork, tokens: TokenIssuer, token: str
) -> EmailChanged:
    """Apply a confirmed e-mail change and end every session of the account. A token works
    once: applying it changes the address and the token version it names."""
    try:
        user_id, new_email, old_fingerprint, version = tokens.read_email_change_token(token)
    except InvalidToken as exc:
        raise InvalidEmailChangeToken() from exc
    async with uow:
        user = await uow.users.get(user_id)
        if (
            user is None
            or not user.is_active
            or user.token_version != version
            or not email_fingerprint_matches(user.email, old_fingerprint)
        ):
            raise InvalidEmailChangeToken()
        other = await uow.users.get_by_email(new_email)
        if other is not None and other.id != user.id:
            raise EmailTaken()
        old_email = user.email
        user.email = new_email
        user.token_version += 1  # every session, on every gateway, ends
        try:
            await uow.session.flush()
        except IntegrityError as exc:  # taken by a sign-up in the meantime
            raise EmailTaken() from exc
        await uow.commit()
        return EmailChanged(user.id, old_email, new_email)


async def read_user(
    uow: IdentityUnitOfWork, actor_id: uuid.UUID, actor_is_superuser: bool, user_id: uuid.UUID
) -> User:
    """A user may read themself; superusers anyone. Anyone else's id is not found."""
    if user_id != actor_id and not actor_is_superuser:
        raise UserNotFound()
    async with uow:
        user = await uow.users.get(user_id)
        if user is None:
            raise UserNotFound()
        return user


async def delete_user(uow: IdentityUnitOfWork, user_id: uuid.UUID, actor_id: uuid.UUID) -> None:
    """Delete the account; `user.deleted` lets every service remove what the user owned.

    A superuser may not delete themself (the platform would lose its administrator).
    """
    async with uow:
        user = await uow.users.get(user_id)
        if user is None:
            raise UserNotFound()
        if user.id == actor_id and user.is_superuser:
            raise SuperuserSelfDelete()
        await uow.users.delete(user)
        await uow.emit(UserDeletedV1(user_id=user_id))
        await uow.commit()


@dataclass(frozen=True)
class RecoveryPolicy:
    per_address: int
    per_client: int
    window: timedelta = timedelta(hours=1)


async def start_password_recovery(
    uow: IdentityUnitOfWork,
    tokens: TokenIssuer,
    email: str,
    client: str,
    policy: RecoveryPolicy,
) -> tuple[str, str] | None:
    """(address, reset token) for an active account, else None. Callers answer the same.

    Every request counts, per address asked about and per client address, before anything
    is looked up: the limit (TooManyRecoveryRequests) comes alike whether or not the account
    exists. The address is kept only as a hash.
    """
    email = email.lower()
    now = datetime.now(UTC)
    address_key = "recovery:address:sha256:" + hashlib.sha256(email.encode()).hexdigest()
    limits = (
        (address_key, policy.per_address),
        (_throttle_key(f"recovery:client:{client}"), policy.per_client),
    )
    async with uow:
        wait = timedelta(0)
        for key, limit in limits:
            count, started = await uow.throttle.hit(key, now, policy.window)
            if count > limit:
                # min: a concurrent request with a later clock may have opened the window.
                wait = max(wait, min(started + policy.window - now, policy.window))
        await uow.commit()
        if wait > timedelta(0):
            raise TooManyRecoveryRequests(max(1, math.ceil(wait.total_seconds())))
        user = await uow.users.get_by_email(email)
        if user is None or not user.is_active:
            return None
        return user.email, tokens.reset_token(user.id, user.hashed_password)


async def reset_password(
    uow: IdentityUnitOfWork,
    hasher: PasswordHasher,
    tokens: TokenIssuer,
    token: str,
    new_password: str,
) -> uuid.UUID:
    """Set a new password from a reset token; answers whose password it was."""
    try:
        user_id, fingerprint = tokens.read_reset_token(token)
    except InvalidToken as exc:
        raise InvalidResetToken() from exc
    async with uow:
        user = await uow.users.get(user_id)
        if user is None or not password_fingerprint_matches(user.hashed_password, fingerprint):
            raise InvalidResetToken()
        if not user.is_active:
            raise InactiveUser()
        user.hashed_password = await hasher.hash(new_password)
        user.token_version += 1
        await uow.commit()
        return user_id


async def ensure_first_superuser(
    uow: IdentityUnitOfWork, hasher: PasswordHasher, email: str, password: str
) -> bool:
    """Create the configured superuser unless it exists. True when created."""
    async with uow:
        if await uow.users.get_by_email(email) is not None:
            return False
    try:
        await register_user(
            uow, hasher, email, password, {"is_superuser": True, "full_name": "Administrator"}
        )
    except EmailTaken:  # another gateway instance won the race
        return False
    return True
