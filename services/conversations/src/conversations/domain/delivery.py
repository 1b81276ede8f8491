"""Pure rules of the way back: delivery states, messaging windows, length limits, opt-out.

Facts from the providers' documentation (see the service README for the sources):
- WhatsApp, Messenger and Instagram accept free-form replies only within 24 h of the
  visitor's last message; our own messages do not extend the window. WhatsApp templates may
  be sent at any time; a Messenger/Instagram reply typed by a human may carry the
  HUMAN_AGENT tag up to 7 days, an automated one never.
- Twilio stops delivering to a number that sent STOP until it sends START (error 21610).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

DeliveryStatus = Literal["pending", "sending", "sent", "delivered", "read", "failed", "unknown"]

# `sending` is held only while one consumer has claimed the row and calls the provider.
# `unknown`: the provider may or may not have taken it (timeout, 5xx, crash): never resent
# automatically; the owner decides (retry).
RETRYABLE_BY_OWNER: tuple[str, ...] = ("failed", "unknown")

WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
# Clocks and queues differ between us and Meta: refuse a little before the window closes
# rather than send a reply Meta then fails with 131047.
WINDOW_MARGIN = timedelta(minutes=5)
WINDOWED_CHANNELS: tuple[str, ...] = ("whatsapp", "messenger", "instagram")
HUMAN_AGENT_CHANNELS: tuple[str, ...] = ("messenger", "instagram")


class ReplyWindowClosed(Exception):
    """The channel does not accept a free-form reply now."""


class ReplyTooLong(ValueError):
    """The reply cannot be sent as it is, nor split without misleading the visitor."""


@dataclass(frozen=True, slots=True)
class ReplyPolicy:
    """How a reply goes out: `tag` is the Messenger/Instagram message tag, if any."""

    tag: str | None = None


def reply_policy(
    channel: str,
    role: str,
    last_visitor_message_at: datetime | None,
    now: datetime,
    *,
    template: bool = False,
) -> ReplyPolicy:
    """Whether a reply may be sent now, and with which tag; raises ReplyWindowClosed."""
    if channel not in WINDOWED_CHANNELS or (template and channel == "whatsapp"):
        return ReplyPolicy()
    if last_visitor_message_at is None:
        raise ReplyWindowClosed(
            f"The visitor has not written on {channel} yet, so no reply can be sent there"
            + (" (send an approved template instead)" if channel == "whatsapp" else "")
        )
    age = now - last_visitor_message_at
    if age <= WINDOW - WINDOW_MARGIN:
        return ReplyPolicy()
    if channel in HUMAN_AGENT_CHANNELS and role == "owner" and age <= HUMAN_AGENT_WINDOW:
        return ReplyPolicy(tag="HUMAN_AGENT")
    hours = int(age.total_seconds() // 3600)
    if channel == "whatsapp":
        raise ReplyWindowClosed(
            f"The visitor last wrote {hours} h ago; WhatsApp accepts free-form replies only "
            "within 24 h of the visitor's last message. Send an approved template instead"
        )
    if role == "owner":
        raise ReplyWindowClosed(
            f"The visitor last wrote {hours} h ago; {channel} accepts replies only within 24 h, "
            "or 7 days for a reply by a person (HUMAN_AGENT)"
        )
    raise ReplyWindowClosed(
        f"The visitor last wrote {hours} h ago; {channel} accepts automated replies only "
        "within 24 h of the visitor's last message"
    )


def _chars(text: str) -> int:
    return len(text)


def _utf8_bytes(text: str) -> int:
    return len(text.encode())


# (limit, how it is measured): SMS 1,600 characters (Twilio's Body limit), Messenger 2,000
# characters, Instagram 1,000 UTF-8 bytes, WhatsApp 4,096 characters.
LENGTH_LIMITS: dict[str, tuple[int, Callable[[str], int], str]] = {
    "sms": (1600, _chars, "characters"),
    "messenger": (2000, _chars, "characters"),
    "instagram": (1000, _utf8_bytes, "bytes"),
    "whatsapp": (4096, _chars, "characters"),
}
MAX_PARTS = 10


def split_reply(channel: str, content: str) -> list[str]:
    """The reply as the messages it is sent as, in order, each within the channel's limit.

    Cuts at the last whitespace that fits; a single word or link longer than the
    limit is refused rather than cut, since a broken link or number misleads the visitor.
    """
    if channel not in LENGTH_LIMITS:
        return [content]
    limit, measure, unit = LENGTH_LIMITS[channel]
    if measure(content) <= limit:
        return [content]
    parts: list[str] = []
    rest = content.strip()
    while measure(rest) > limit:
        cut = _cut(rest, limit, measure)
        if cut <= 0:
            raise ReplyTooLong(
                f"A word or link in the reply is longer than {channel}'s limit of {limit} "
                f"{unit}; shorten it"
            )
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    if len(parts) > MAX_PARTS:
        raise ReplyTooLong(
            f"The reply would take {len(parts)} {channel} messages (at most {MAX_PARTS}); "
            "shorten it"
        )
    return parts


def _cut(text: str, limit: int, measure: Callable[[str], int]) -> int:
    """Index of the last whitespace at which text[:index] fits the limit; 0 if none."""
    end = min(len(text), limit)
    while end > 0 and measure(text[:end]) > limit:  # bytes: multi-byte characters
        end -= 1
    window = text[: end + 1]  # whitespace right after the fitting prefix is a cut too
    index = max(window.rfind("\n"), window.rfind(" "), window.rfind("\t"))
    return index if index > 0 else 0


OPT_OUT_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
)
OPT_IN_WORDS = frozenset({"start", "unstop", "yes"})


def opt_out_change(text: str) -> bool | None:
    """True for an SMS opt-out keyword, False for an opt-in one, None otherwise."""
    word = text.strip().strip(".!").lower()
    if word in OPT_OUT_WORDS:
        return True
    if word in OPT_IN_WORDS:
        return False
    return None
