"""Internal tokens: how the gateway tells a service who is calling.

The gateway authenticates the user, then signs a short-lived token whose audience is the one
service it forwards to. Services accept nothing else. The signing key is derived from
SECRET_KEY with a fixed label, so a user's access token (signed with a different key and
audience) can never pass as an internal token.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from uuid import UUID

import jwt

ISSUER = "base-gateway"
ALGORITHM = "HS256"
TOKEN_TYPE = "internal"


class InvalidInternalToken(Exception):
    """The token is missing, expired, forged, or meant for another service."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for. `user_id` is None for public and webhook traffic."""

    user_id: UUID | None
    is_superuser: bool = False

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None


ANONYMOUS = Principal(user_id=None)


def internal_key(secret_key: str) -> bytes:
    return hmac.new(
        secret_key.encode(), b"base-platform/internal-token/v1", hashlib.sha256
    ).digest()


def sign_internal_token(
    secret_key: str,
    audience: str,
    principal: Principal,
    ttl_seconds: int = 60,
    now: float | None = None,
) -> str:
    issued = int(now if now is not None else time.time())
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": audience,
        "iat": issued,
        "exp": issued + ttl_seconds,
        "typ": TOKEN_TYPE,
        "su": principal.is_superuser,
    }
    if principal.user_id is not None:
        claims["sub"] = str(principal.user_id)
    return jwt.encode(claims, internal_key(secret_key), algorithm=ALGORITHM)


def verify_internal_token(secret_key: str, audience: str, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            internal_key(secret_key),
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "iss", "aud", "typ"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidInternalToken(str(exc)) from exc
    if claims.get("typ") != TOKEN_TYPE:
        raise InvalidInternalToken("not an internal token")
    sub = claims.get("sub")
    try:
        user_id = UUID(sub) if sub else None
    except ValueError as exc:
        raise InvalidInternalToken("malformed subject") from exc
    return Principal(user_id=user_id, is_superuser=bool(claims.get("su", False)))
