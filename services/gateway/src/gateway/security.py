"""Password hashing (Argon2id, off the event loop) and the user-facing JWTs.

Token kinds are explicit (`typ`): an access token, a password-reset token and the services'
internal tokens are signed for different audiences, so none can stand in for another.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import jwt
from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError

T = TypeVar("T")

ALGORITHM = "HS256"
ISSUER = "base-platform"
ACCESS_AUDIENCE = "base-platform-api"
RESET_AUDIENCE = "base-platform-password-reset"
EMAIL_CHANGE_AUDIENCE = "base-platform-email-change"


class InvalidToken(Exception):
    pass


class PasswordHasher:
    """Argon2id with explicit parameters, on a small fixed pool of threads of its own.

    argon2 releases the GIL, so a hash runs beside the event loop; the pool (one thread by
    default) bounds how much of the machine a burst of logins can take from reads, and how
    much memory: each hash needs `memory_kib` (19 MiB at the defaults), which glibc keeps in
    the hashing thread's own arena and reuses for the next hash. Queued logins wait for the
    pool instead of each taking one of anyio's threads, each of which kept a block of its
    own for good (a burst of 600 logins grew the gateway by 60-120 MB).
    """

    def __init__(self, memory_kib: int, time_cost: int, parallelism: int, workers: int = 1):
        self._hasher = Argon2Hasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        # Verified against when the e-mail is unknown, so both paths cost the same.
        self._dummy_hash = self._hasher.hash(uuid.uuid4().hex)

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def hash(self, password: str) -> str:
        return await self._run(lambda: self._hasher.hash(password))

    async def verify(self, hashed: str | None, password: str) -> bool:
        target = hashed or self._dummy_hash

        def check() -> bool:
            try:
                return self._hasher.verify(target, password)
            except (VerificationError, InvalidHashError):
                return False

        ok = await self._run(check)
        return ok and hashed is not None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def needs_rehash(self, hashed: str) -> bool:
        return self._hasher.check_needs_rehash(hashed)


@dataclass(frozen=True)
class TokenIssuer:
    secret_key: str
    access_minutes: int
    reset_minutes: int
    email_change_minutes: int = 60

    def access_token(self, user_id: uuid.UUID, version: int = 0) -> str:
        """`ver` is the user's token version: raising it revokes every earlier token."""
        return self._encode(
            {"sub": str(user_id), "typ": "access", "ver": version},
            ACCESS_AUDIENCE,
            self.access_minutes,
        )

    def read_access_token(self, token: str) -> tuple[uuid.UUID, int]:
        """(user id, token version)."""
        claims = self._decode(token, ACCESS_AUDIENCE, "access")
        version = claims.get("ver", 0)
        if not isinstance(version, int) or isinstance(version, bool):
            raise InvalidToken("malformed token version")
        return _subject(claims), version

    def reset_token(self, user_id: uuid.UUID, hashed_password: str) -> str:
        return self._encode(
            {"sub": str(user_id), "typ": "password-reset", "pwd": _fingerprint(hashed_password)},
            RESET_AUDIENCE,
            self.reset_minutes,
        )

    def read_reset_token(self, token: str) -> tuple[uuid.UUID, str]:
        """(user id, fingerprint of the password hash it was issued against).

        Once the password changes the fingerprint no longer matches, so a token works once.
        """
        claims = self._decode(token, RESET_AUDIENCE, "password-reset")
        return _subject(claims), str(claims.get("pwd", ""))

    def email_change_token(
        self, user_id: uuid.UUID, current_email: str, new_email: str, version: int
    ) -> str:
        """Proof of owning `new_email`, for the account that asked. It names the address it
        replaces and the token version it was issued at: once any e-mail change is applied (or
        the password changes), both have moved on and the token no longer works."""
        return self._encode(
            {
                "sub": str(user_id),
                "typ": "email-change",
                "new": new_email,
                "old": _fingerprint(current_email.lower()),
                "ver": version,
            },
            EMAIL_CHANGE_AUDIENCE,
            self.email_change_minutes,
        )

    def read_email_change_token(self, token: str) -> tuple[uuid.UUID, str, str, int]:
        """(user id, new address, fingerprint of the replaced address, token version)."""
        claims = self._decode(token, EMAIL_CHANGE_AUDIENCE, "email-change")
        new, old, version = claims.get("new"), claims.get("old"), claims.get("ver")
        if not isinstance(new, str) or not isinstance(old, str) or type(version) is not int:
            raise InvalidToken("malformed e-mail change token")
        return _subject(claims), new, old, version

    def _encode(self, claims: dict[str, object], audience: str, minutes: int) -> str:
        now = int(time.time())
        payload = {**claims, "iss": ISSUER, "aud": audience, "iat": now, "exp": now + minutes * 60}
        return jwt.encode(payload, self.secret_key, algorithm=ALGORITHM)

    def _decode(self, token: str, audience: str, typ: str) -> dict[str, object]:
        try:
            claims = jwt.decode(
                token,
                self.secret_key,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        if claims.get("typ") != typ:
            raise InvalidToken("wrong token type")
        return claims


def password_fingerprint_matches(hashed_password: str, fingerprint: str) -> bool:
    import hmac

    return hmac.compare_digest(_fingerprint(hashed_password), fingerprint)


def email_fingerprint_matches(email: str, fingerprint: str) -> bool:
    import hmac

    return hmac.compare_digest(_fingerprint(email.lower()), fingerprint)


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:24]


def _subject(claims: dict[str, object]) -> uuid.UUID:
    try:
        return uuid.UUID(str(claims["sub"]))
    except (KeyError, ValueError) as exc:
        raise InvalidToken("malformed subject") from exc
