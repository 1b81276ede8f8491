import subprocess
import sys
import time
import uuid

import jwt
import pytest
from pydantic import ValidationError

from shared import tokens
from shared.settings import ServiceSettings
from shared.tokens import (
    InvalidInternalToken,
    Principal,
    TokenSigner,
    TokenVerifier,
    audience_key,
    sign_internal_token,
    verify_internal_token,
)

SECRET = "unit-test-secret-long-enough-for-hs256"
WORKSPACES = audience_key(SECRET, "workspaces")
CONNECTORS = audience_key(SECRET, "connectors")
CONVERSATIONS = audience_key(SECRET, "conversations")


def test_internal_token_round_trip_keeps_user_and_superuser_flag() -> None:
    user = uuid.uuid4()
    token = sign_internal_token(WORKSPACES, "workspaces", Principal(user, True))
    assert verify_internal_token(WORKSPACES, "workspaces", token) == Principal(user, True)


def test_anonymous_principal_has_no_user() -> None:
    token = sign_internal_token(CONVERSATIONS, "conversations", Principal(None))
    principal = verify_internal_token(CONVERSATIONS, "conversations", token)
    assert principal.user_id is None
    assert principal.is_anonymous


def test_token_for_another_audience_is_refused() -> None:
    token = sign_internal_token(WORKSPACES, "workspaces", Principal(uuid.uuid4()))
    with pytest.raises(InvalidInternalToken):
        verify_internal_token(CONNECTORS, "connectors", token)


def test_each_audience_has_its_own_key_none_of_which_is_the_secret() -> None:
    keys = {audience_key(SECRET, a) for a in ("workspaces", "connectors", "conversations")}
    assert len(keys) == 3 and SECRET not in keys
    assert all(len(k) == 64 and int(k, 16) >= 0 for k in keys)  # hex, fits an env variable
    assert audience_key(SECRET, "connectors") == CONNECTORS  # stable: gateway and service agree
    assert audience_key(SECRET + "x", "connectors") != CONNECTORS


@pytest.mark.parametrize(
    ("held_by", "held_key", "target", "target_key"),
    [
        ("conversations", CONVERSATIONS, "connectors", CONNECTORS),
        ("connectors", CONNECTORS, "conversations", CONVERSATIONS),
        ("connectors", CONNECTORS, "workspaces", WORKSPACES),
        ("workspaces", WORKSPACES, "connectors", CONNECTORS),
    ],
)
def test_a_services_own_key_mints_nothing_another_service_accepts(
    held_by: str, held_key: str, target: str, target_key: str
) -> None:
    """Whoever holds one service's key can claim any audience; no other service believes it."""
    user = uuid.uuid4()
    for audience in (held_by, target):
        forged = sign_internal_token(held_key, audience, Principal(user, True))
        with pytest.raises(InvalidInternalToken):
            verify_internal_token(target_key, target, forged)


def test_expired_token_is_refused() -> None:
    token = sign_internal_token(
        WORKSPACES, "workspaces", Principal(uuid.uuid4()), ttl_seconds=5, now=time.time() - 60
    )
    with pytest.raises(InvalidInternalToken):
        verify_internal_token(WORKSPACES, "workspaces", token)


def test_token_signed_with_the_raw_secret_is_refused() -> None:
    """A user access token is signed with SECRET_KEY itself; internal tokens with a derived key."""
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
        verify_internal_token(WORKSPACES, "workspaces", forged)


def test_settings_derive_every_key_from_secret_key_when_none_is_given() -> None:
    settings = ServiceSettings(secret_key=SECRET)
    assert settings.token_key("workspaces", "workspaces") == WORKSPACES
    assert settings.token_key("workspaces", "connectors") == WORKSPACES


def test_given_keys_win_and_need_no_secret_key() -> None:
    own, theirs = "k" * 40, "w" * 40
    settings = ServiceSettings(internal_token_key=own, workspaces_token_key=theirs)
    assert settings.token_key("connectors", "connectors") == own  # verifies its own tokens
    assert settings.token_key("workspaces", "connectors") == theirs  # signs its lookups
    # A key it was not given is derived from the development SECRET_KEY: useless deployed.
    assert settings.token_key("conversations", "connectors") not in (own, theirs)


def test_short_token_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        ServiceSettings(internal_token_key="short")
    with pytest.raises(ValidationError, match="at least 32 characters"):
        ServiceSettings(workspaces_token_key="short")


def test_the_command_prints_each_services_key_from_secret_key() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "shared.tokens"],
        env={"SECRET_KEY": SECRET},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert printed == [
        f"WORKSPACES_TOKEN_KEY={WORKSPACES}",
        f"CONNECTORS_TOKEN_KEY={CONNECTORS}",
        f"CONVERSATIONS_TOKEN_KEY={CONVERSATIONS}",
    ]
    missing = subprocess.run(
        [sys.executable, "-m", "shared.tokens"], env={}, capture_output=True, text=True
    )
    assert missing.returncode != 0 and "SECRET_KEY" in missing.stderr


def test_a_signer_reuses_a_token_while_it_is_fresh_and_signs_anew_after(monkeypatch) -> None:
    key = audience_key("s" * 32, "connectors")
    signer = TokenSigner(key, "connectors", ttl_seconds=60)
    ana, bea = Principal(uuid.uuid4()), Principal(uuid.uuid4())
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)
    first = signer.token(ana)
    assert signer.token(ana) == first and signer.token(bea) != first
    assert verify_internal_token(key, "connectors", first) == ana
    now += 31  # past half its life: a new one, which still has most of its life to go
    second = signer.token(ana)
    assert second != first
    assert jwt.decode(second, options={"verify_signature": False})["exp"] == int(now) + 60


def test_a_verifier_remembers_a_verified_token_until_it_expires_and_never_a_bad_one(
    monkeypatch,
) -> None:
    key = audience_key("s" * 32, "conversations")
    verifier = TokenVerifier(key, "conversations")
    ana = Principal(uuid.uuid4())
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)
    token = sign_internal_token(key, "conversations", ana, ttl_seconds=60, now=now)
    assert verifier.verify(token) == ana
    checks = []
    verified = tokens._verified

    def counted(*args):
        checks.append(args[2])
        return verified(*args)

    monkeypatch.setattr(tokens, "_verified", counted)
    assert verifier.verify(token) == ana
    assert checks == []  # from memory
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    for _ in range(2):
        with pytest.raises(InvalidInternalToken):
            verifier.verify(tampered)
    assert checks == [tampered, tampered]  # a refused token is never remembered
    other = sign_internal_token(audience_key("s" * 32, "workspaces"), "conversations", ana)
    with pytest.raises(InvalidInternalToken):
        verifier.verify(other)
    now += 61  # past its expiry: not answered from memory, checked again (by PyJWT's clock)
    checks.clear()
    verifier.verify(token)
    assert checks == [token]
