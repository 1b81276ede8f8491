"""One-time codes that prove a typed e-mail or phone. Pure rules only.

A code is six digits from `secrets`; only an HMAC-SHA256 of it (keyed per service, bound to
the code's row id, so equal codes never hash alike) is stored. A request for a target no
contact holds stores a hash of random bytes instead, which no six-digit code can match, so
checking a code for it goes through the very same steps as for a real one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

CODE_DIGITS = 6

CheckStatus = Literal["verified", "wrong", "expired", "locked", "none"]


@dataclass(frozen=True, slots=True)
class IdentityPolicy:
    """Limits and key of identity codes (from the service's settings)."""

    key: bytes
    ttl_seconds: int = 600
    attempts: int = 5
    requests_per_hour: int = 3
    per_target_per_hour: int = 5


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(key: bytes, code_id: uuid.UUID, code: str) -> bytes:
    return hmac.new(key, code_id.bytes + code.encode(), hashlib.sha256).digest()


def unmatchable_hash(key: bytes, code_id: uuid.UUID) -> bytes:
    """For a target nobody holds: the hash of 32 random bytes, never of a six-digit code."""
    return hmac.new(key, code_id.bytes + secrets.token_bytes(32), hashlib.sha256).digest()


def read_code(typed: str) -> str:
    """What the visitor typed, without spaces, dashes or dots ("123 456", "123-456")."""
    return re.sub(r"[\s\-.]", "", typed or "")[:32]


@dataclass(frozen=True, slots=True)
class CodeState:
    expires_at: datetime
    attempts: int
    locked_at: datetime | None
    used_at: datetime | None


def standing(state: CodeState | None, now: datetime) -> CheckStatus | None:
    """Why a code cannot be checked at all ("none": no code, or it was used; "locked";
    "expired"), or None when it may be compared."""
    if state is None or state.used_at is not None:
        return "none"
    if state.locked_at is not None:
        return "locked"
    if state.expires_at <= now:
        return "expired"
    return None


def matches(key: bytes, code_id: uuid.UUID, typed: str, stored: bytes) -> bool:
    """Constant-time comparison of the typed code's hash with the stored one."""
    return hmac.compare_digest(code_hash(key, code_id, read_code(typed)), stored)


def after_wrong(attempts: int, allowed: int) -> tuple[int, bool]:
    """Attempts after one more wrong code, and whether the code is now locked."""
    attempts += 1
    return attempts, attempts >= allowed
