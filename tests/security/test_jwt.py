"""Forged, stale and misdirected tokens through the gateway: every one a 401, none a 500."""

from __future__ import annotations

import base64
import json
import time

import httpx
import jwt
import pytest

from shared.tokens import Principal, sign_internal_token
from tests.e2e.conftest import SECRET

# The access-token claims the gateway signs, for a forger to start from.
NOW = int(time.time())
SUBJECT = "00000000-0000-4000-8000-000000000001"
GOOD = {
    "sub": SUBJECT,
    "typ": "access",
    "ver": 0,
    "iss": "base-platform",
    "aud": "base-platform-api",
    "iat": NOW,
    "exp": NOW + 3600,
}
PUBLIC_LOOKING_KEY = (
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----"
)
PROTECTED = ("/api/v1/users/me", "/api/v1/workspaces/me", "/api/v1/conversations/")


def _b64(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signed(claims: dict, key: str = SECRET) -> str:
    return jwt.encode(claims, key, algorithm="HS256")


def _hs256_by_hand(claims: dict, key: str) -> str:
    """What an algorithm-confusion attack sends: HMAC keyed with a public key's text
    (PyJWT refuses to produce it, so it is built by hand)."""
    import hashlib
    import hmac

    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}"
    mac = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _visitor_token() -> str:
    import hashlib
    import hmac

    key = hmac.new(SECRET.encode(), b"base-platform/visitor-token/v1", hashlib.sha256).digest()
    claims = {
        "iss": "base-conversations",
        "aud": "conversations:visitor",
        "sub": SUBJECT,
        "iat": NOW,
        "exp": NOW + 3600,
    }
    return jwt.encode(claims, key, algorithm="HS256")


def _tampered(real: str) -> str:
    header, _, signature = real.split(".")
    return f"{header}.{_b64({**GOOD, 'sub': SUBJECT, 'su': True})}.{signature}"


FORGERIES = {
    "alg none": lambda real: f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(GOOD)}.",
    "alg none via pyjwt": lambda real: jwt.encode(GOOD, key=None, algorithm="none"),
    "HS256 with a public-looking key": lambda real: _hs256_by_hand(GOOD, PUBLIC_LOOKING_KEY),
    "HS512 with the real key": lambda real: jwt.encode(GOOD, SECRET, algorithm="HS512"),
    "expired": lambda real: _signed({**GOOD, "iat": NOW - 7200, "exp": NOW - 3600}),
    "not yet valid (nbf)": lambda real: _signed({**GOOD, "nbf": NOW + 3600}),
    "issued in the future": lambda real: _signed({**GOOD, "iat": NOW + 3600, "exp": NOW + 7200}),
    "wrong aud": lambda real: _signed({**GOOD, "aud": "somebody-else"}),
    "wrong iss": lambda real: _signed({**GOOD, "iss": "evil"}),
    "no exp": lambda real: _signed({k: v for k, v in GOOD.items() if k != "exp"}),
    "reset token": lambda real: _signed(
        {**GOOD, "typ": "password-reset", "aud": "base-platform-password-reset", "pwd": "x"}
    ),
    "access typ on reset audience": lambda real: _signed(
        {**GOOD, "aud": "base-platform-password-reset"}
    ),
    "visitor token": lambda real: _visitor_token(),
    "internal token": lambda real: sign_internal_token(
        SECRET, "gateway", Principal(user_id=None, is_superuser=True)
    ),
    "internal token for a service": lambda real: sign_internal_token(
        SECRET, "workspaces", Principal(user_id=None, is_superuser=True)
    ),
    "tampered payload": _tampered,
    "signature stripped": lambda real: real.rsplit(".", 1)[0] + ".",
    "malformed subject": lambda real: _signed({**GOOD, "sub": "not-a-uuid"}),
    "non-integer version": lambda real: _signed({**GOOD, "ver": "0"}),
    "garbage": lambda real: "garbage",
    "three dots of garbage": lambda real: "a.b.c",
    "huge": lambda real: "x" * 6000,
    "non-ascii": lambda real: "tökén.ünï.cødé",
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
async def test_forged_or_misdirected_token_is_401(gw: httpx.AsyncClient, owner, name: str) -> None:
    real = owner["headers"]["Authorization"].removeprefix("Bearer ")
    token = FORGERIES[name](real)
    for path in PROTECTED:
        header = f"Bearer {token}".encode()  # raw bytes: non-ASCII goes as sent
        response = await gw.get(path, headers={"Authorization": header})
        assert response.status_code == 401, (name, path, response.status_code, response.text)
        assert response.json()["detail"]


async def test_the_real_token_still_works(gw: httpx.AsyncClient, owner) -> None:
    assert (await gw.get("/api/v1/users/me", headers=owner["headers"])).status_code == 200


@pytest.mark.parametrize("header", ["Bearer", "Basic dXNlcjpwYXNz", "bearer  x y", "Token abc"])
async def test_malformed_authorization_headers_are_401(gw: httpx.AsyncClient, header: str) -> None:
    for path in PROTECTED:
        response = await gw.get(path, headers={"Authorization": header})
        assert response.status_code == 401, (header, path, response.text)
