"""Web chat visitor tokens: a JWT bound to one conversation.

Signed with a key derived from SECRET_KEY under a label of its own, so it can never pass as
an internal or user token, and no internal or user token can pass as it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid

import jwt

from conversations.domain.errors import InvalidVisitorToken

ALGORITHM = "HS256"
AUDIENCE = "conversations:visitor"
ISSUER = "base-conversations"


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"base-platform/visitor-token/v1", hashlib.sha256).digest()


def issue_visitor_token(
    secret_key: str, conversation_id: uuid.UUID, ttl_seconds: int, now: float | None = None
) -> str:
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(conversation_id),
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    return jwt.encode(claims, _key(secret_key), algorithm=ALGORITHM)


def visitor_conversation(secret_key: str, token: str) -> uuid.UUID:
    """The conversation the token grants; raises InvalidVisitorToken when forged or expired."""
    try:
        claims = jwt.decode(
            token,
            _key(secret_key),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub"]},
        )
        return uuid.UUID(claims["sub"])
    except (jwt.PyJWTError, ValueError) as exc:
        raise InvalidVisitorToken("Invalid visitor token") from exc
