"""Internal tokens: how the gateway tells a service who is calling.

The gateway authenticates the user, then signs a short-lived token whose audience is the one
service it forwards to. Services accept nothing else.

Each audience has its own key, derived from the gateway's SECRET_KEY with a label naming the
audience (`audience_key`). A service holds only the key of its own audience (to verify) and
the keys of the services it calls (to sign), never SECRET_KEY: a leak of one service's
settings cannot mint a token for another service, nor a user's access token (signed with
SECRET_KEY itself, with another audience).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from uuid import UUID

import jwt

ISSUER = "base-gateway"
# The services the gateway forwards to: each is the audience of its own tokens.
AUDIENCES = ("workspaces", "connectors", "conversations")
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


def audience_key(secret_key: str, audience: str) -> str:
    """The key of internal tokens meant for `audience`, from the gateway's SECRET_KEY.

    Hex, so an operator can hand it to the service as an environment variable
    (`python -m shared.tokens` prints them). One-way: it reveals nothing of SECRET_KEY or of
    another audience's key.
    """
    label = f"base-platform/internal-token/v2/{audience}".encode()
    return hmac.new(secret_key.encode(), label, hashlib.sha256).hexdigest()


def sign_internal_token(
    key: str,
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
    return jwt.encode(claims, key.encode(), algorithm=ALGORITHM)


def verify_internal_token(key: str, audience: str, token: str) -> Principal:
    """`key` is the audience's key (`audience_key`, or the INTERNAL_TOKEN_KEY a service got)."""
    return _verified(key, audience, token)[0]


def _verified(key: str, audience: str, token: str) -> tuple[Principal, float]:
    """The token's principal and its expiry (unix seconds)."""
    try:
        claims = jwt.decode(
            token,
            key.encode(),
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
    principal = Principal(user_id=user_id, is_superuser=bool(claims.get("su", False)))
    return principal, float(claims["exp"])


# Between two services the same few principals call again and again: signing a token for
# each call and verifying each one were about a twentieth of a small call's CPU on both
# sides. A signer hands out the same token while it has more than half its life left; a
# verifier remembers the tokens it verified until they expire. A token string is only ever
# the same if it was signed with the key, so remembering it trusts nothing new.
_REMEMBERED = 4096  # tokens per signer or verifier; past that the memory starts afresh


class TokenSigner:
    """Internal tokens for one audience, one per principal while it is fresh enough."""

    def __init__(self, key: str, audience: str, ttl_seconds: int = 60) -> None:
        self.key, self.audience, self.ttl = key, audience, ttl_seconds
        self._tokens: dict[Principal, tuple[str, float]] = {}

    def token(self, principal: Principal) -> str:
        now = time.time()
        found = self._tokens.get(principal)
        if found is not None and found[1] > now:
            return found[0]
        token = sign_internal_token(self.key, self.audience, principal, self.ttl, now)
        if len(self._tokens) >= _REMEMBERED:
            self._tokens.clear()
        self._tokens[principal] = (token, int(now) + self.ttl / 2)
        return token


class TokenVerifier:
    """`verify_internal_token` for one audience, remembering what it verified until expiry."""

    def __init__(self, key: str, audience: str) -> None:
        self.key, self.audience = key, audience
        self._verified: dict[str, tuple[Principal, float]] = {}

    def verify(self, token: str) -> Principal:
        found = self._verified.get(token)
        if found is not None and found[1] > time.time():
            return found[0]
        principal, expires = _verified(self.key, self.audience, token)
        if len(self._verified) >= _REMEMBERED:
            self._verified.clear()
        self._verified[token] = (principal, expires)
        return principal


def main(argv: list[str] | None = None) -> None:
    """Print each service's token keys, derived from SECRET_KEY, as environment lines."""
    import argparse
    import os

    parser = argparse.ArgumentParser(
        prog="python -m shared.tokens",
        description="Internal-token keys for each audience, from SECRET_KEY (read from the "
        "environment): give each service its own as INTERNAL_TOKEN_KEY, and the keys of the "
        "services it calls as <SERVICE>_TOKEN_KEY.",
    )
    parser.add_argument("audiences", nargs="*", default=list(AUDIENCES))
    args = parser.parse_args(argv)
    secret = os.environ.get("SECRET_KEY")
    if not secret:
        parser.error("set SECRET_KEY in the environment (the gateway's)")
    for audience in args.audiences:
        print(f"{audience.upper()}_TOKEN_KEY={audience_key(secret, audience)}")


if __name__ == "__main__":
    main()
