"""What every webhook parser shares: the error for a malformed signed body, HMAC checks."""

from __future__ import annotations

import hashlib
import hmac
from enum import Enum


class MalformedPayload(ValueError):
    """The signature is good but the body is not what the provider documents."""


class Verdict(Enum):
    """MISSING answers 401 (authenticate), INVALID answers 403 (forged or stale)."""

    OK = "ok"
    MISSING = "missing"
    INVALID = "invalid"


def sha256_header_verdict(secret: str, signed: bytes, header: str | None) -> Verdict:
    """Check a `sha256=<hex HMAC-SHA256>` header in constant time."""
    if not header:
        return Verdict.MISSING
    scheme, _, digest = header.strip().partition("=")
    if scheme.lower() != "sha256" or not digest:
        return Verdict.INVALID
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    # Bytes, so a non-ASCII header cannot raise instead of failing the comparison.
    ok = hmac.compare_digest(expected.encode(), digest.strip().lower().encode())
    return Verdict.OK if ok else Verdict.INVALID
