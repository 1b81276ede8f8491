"""Workspace settings: the agent's tone and the business's timezone."""

from enum import StrEnum
from functools import cache
from zoneinfo import available_timezones


class Tone(StrEnum):
    """How the AI agent speaks to visitors of a workspace."""

    FRIENDLY = "friendly"
    PROFESSIONAL = "professional"
    CASUAL = "casual"
    FORMAL = "formal"


# Files that sit in the system tz directory but are not IANA zone names.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@cache
def _known_timezones() -> frozenset[str]:
    # Checked against the database listing rather than by opening ZoneInfo(name): that would
    # also accept file paths under the tz directory and depends on the host's files.
    return frozenset(available_timezones()) - _NOT_ZONES


def timezone_problem(name: str) -> str | None:
    if name not in _known_timezones():
        return f"Unknown timezone '{name}': use an IANA name such as 'America/New_York'"
    return None
