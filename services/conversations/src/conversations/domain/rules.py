"""Pure rules of conversations: channels, statuses, tags, delivery states, time saved.

No framework imports here: the API, the consumers and the tests all lean on these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal, get_args

Channel = Literal["web", "instagram", "whatsapp", "sms", "messenger", "chatgpt", "phone"]
Status = Literal["open", "pending", "resolved"]
Role = Literal["visitor", "agent", "owner"]

CHANNELS: tuple[str, ...] = get_args(Channel)
STATUSES: tuple[str, ...] = get_args(Status)
ROLES: tuple[str, ...] = get_args(Role)

# Channels whose provider account (phone number id, page id, Twilio number...) routes inbound
# messages to a workspace. Web chat and integrators name the workspace themselves.
ACCOUNT_CHANNELS: tuple[str, ...] = (
    "whatsapp",
    "messenger",
    "instagram",
    "sms",
    "chatgpt",
    "phone",
)

TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_TAGS = 20

# Time saved, the one definition the API, the stats and the README share:
# every reply the agent sends before the conversation is handed off saves the owner the time
# of reading the visitor and writing that reply by hand, counted at the owner's "minutes per
# agent reply" setting (default DEFAULT_MINUTES_PER_AGENT_REPLY). The reply that announces a
# handoff, and anything after one, saves nothing: a person is needed anyway. The agent adds
# the seconds in the transaction that stores its reply (agent_reply_seconds); storing a
# message adds nothing by itself (time_saved_by). A conversation's `time_saved_seconds` is
# that sum; an owner may overwrite it (PATCH) to correct it, and later agent replies add on
# top of the corrected value. Owner replies and visitor messages save nothing. In stats a
# conversation's time saved counts on the day (workspace timezone) it started.
DEFAULT_MINUTES_PER_AGENT_REPLY = 2
AGENT_REPLY_SECONDS = DEFAULT_MINUTES_PER_AGENT_REPLY * 60


def agent_reply_seconds(minutes_per_reply: int, *, handoff: bool, after_handoff: bool) -> int:
    """Seconds one agent reply saves: the owner's minutes, unless a person is needed."""
    if handoff or after_handoff:
        return 0
    return max(0, minutes_per_reply) * 60


def time_saved_by(role: str) -> int:
    """Seconds storing a message of this role adds by itself: none. Agent replies are
    counted by the agent's turn (agent_reply_seconds), which knows the owner's setting and
    whether the conversation was handed off."""
    return 0


# Provider delivery receipts only move forward; "failed" is final from any state. States
# before the provider's first receipt (pending, sending, unknown) rank below "sent": a receipt
# for a reply whose outcome was unknown proves it went out.
_DELIVERY_RANK = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}
DELIVERY_STATES: tuple[str, ...] = tuple(_DELIVERY_RANK)


class InvalidTag(ValueError):
    """A tag is not a short lowercase label."""


def normalize_tags(tags: Iterable[str]) -> list[str]:
    """Lowercase, strip, de-duplicate and validate; the result is sorted (a set)."""
    result: set[str] = set()
    for raw in tags:
        tag = raw.strip().lower()
        if not TAG_PATTERN.fullmatch(tag):
            raise InvalidTag(
                f"Invalid tag {raw!r}: use 1-32 characters among a-z, 0-9, '-' and '_', "
                "starting with a letter or digit"
            )
        result.add(tag)
    if len(result) > MAX_TAGS:
        raise InvalidTag(f"At most {MAX_TAGS} tags per conversation")
    return sorted(result)


def normalize_delivery_state(status: str) -> str | None:
    """Map a provider receipt to our delivery state; None for states we do not track."""
    value = status.strip().lower()
    if value in ("undelivered", "failed"):
        return "failed"
    return value if value in _DELIVERY_RANK else None


def delivery_advances(current: str | None, new: str) -> bool:
    """Receipts arrive out of order: a late "delivered" must not undo "read"."""
    if current is None:
        return True
    if current == "failed":
        return False
    return _DELIVERY_RANK[new] > _DELIVERY_RANK.get(current, 0)


def reopens(status: str) -> bool:
    """A visitor writing again to a resolved conversation puts it back in the queue."""
    return status == "resolved"
