import time
import uuid

import pytest

from shared.tokens import (
    InvalidInternalToken,
    Principal,
    sign_internal_token,
    verify_internal_token,
)

SECRET = "unit-test-secret-long-enough-for-hs256"


def test_internal_token_round_trip_keeps_user_and_superuser_flag() -> None:
    user = uuid.uuid4()
    token = sign_internal_token(SECRET, "workspaces", Principal(user, True))
    assert verify_internal_token(SECRET, "workspaces", token) == Principal(user, True)


def test_anonymous_principal_has_no_user() -> None:
    token = sign_internal_token(SECRET, "conversations", Principal(None))
    principal = verify_internal_token(SECRET, "conversations", token)
    assert principal.user_id is None
    assert principal.is_anonymous


def test_token_for_another_audience_is_refused() -> None:
    token = sign_internal_token(SECRET, "workspaces", Principal(uuid.uuid4()))
    with pytest.raises(InvalidInternalToken):
        verify_internal_token(SECRET, "connectors", token)


def test_expired_token_is_refused() -> None:
    token = sign_internal_token(
        SECRET, "workspaces", Principal(uuid.uuid4()), ttl_seconds=5, now=time.time() - 60
    )
    with pytest.raises(InvalidInternalToken):
        verify_internal_token(SECRET, "workspaces", token)


def test_token_signed_with_the_raw_secret_is_refused() -> None:
    """A user access token is signed with SECRET_KEY itself; internal tokens with a derived key."""
    import jwt

    now = int(time.time())
    forged = jwt.encode(
        {
            "iss": "base-gateway",
            "aud": "workspaces",
            "iat": now,
            "exp": now + 60,
            "typ": "internal",
            "sub": str(uuid.uuid4()),
        },
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(InvalidInternalToken):
        verify_internal_token(SECRET, "workspaces", forged)
