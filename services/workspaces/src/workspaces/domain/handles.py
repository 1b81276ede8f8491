"""Public workspace handles: `acme-consulting`, used in visitor-facing URLs."""

import re

HANDLE_MIN_LENGTH = 3
HANDLE_MAX_LENGTH = 63
HANDLE_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_HANDLE_RE = re.compile(HANDLE_PATTERN)


def handle_problem(handle: str) -> str | None:
    """Why `handle` cannot be used, in words a person filling a form understands; None if ok.

    Checked in an order that names the most specific problem first.
    """
    if len(handle) < HANDLE_MIN_LENGTH:
        return f"Handle must be at least {HANDLE_MIN_LENGTH} characters long"
    if len(handle) > HANDLE_MAX_LENGTH:
        return f"Handle must be at most {HANDLE_MAX_LENGTH} characters long"
    if any(ch.isspace() for ch in handle):
        return "Handle must not contain spaces"
    if any(ch.isupper() for ch in handle):
        return "Handle must be lowercase"
    if "_" in handle:
        return "Handle must not contain underscores; use hyphens to separate words"
    if not handle.isascii():
        return "Handle must not contain accents or other non-ASCII characters"
    if handle.startswith("-") or handle.endswith("-"):
        return "Handle must not start or end with a hyphen"
    if "--" in handle:
        return "Handle must not contain consecutive hyphens"
    if not _HANDLE_RE.fullmatch(handle):
        return "Handle may only contain lowercase letters a-z, digits and hyphens"
    return None


def is_valid_handle(handle: str) -> bool:
    return handle_problem(handle) is None
