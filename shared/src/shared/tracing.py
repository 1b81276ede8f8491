"""W3C trace context (`traceparent`) carried through HTTP hops and events.

The gateway starts a trace (or continues the caller's), forwards it to the service, the
service stores it in the envelope of every event it emits, the bus sends it as a message
header, and the consumer continues it. Every log line carries `trace_id`, so one id follows
a webhook all the way to the stored message. With tracing on (`shared.telemetry`), the
values held here are those of real OpenTelemetry spans; off, a hop only gets a fresh span id.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

traceparent_var: ContextVar[str | None] = ContextVar("traceparent", default=None)
_PATTERN = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_of(traceparent: str | None) -> str:
    """Same trace, new span id; a missing or malformed parent starts a new trace."""
    match = _PATTERN.match(traceparent or "")
    if match is None or match.group(1) == "0" * 32:
        return new_traceparent()
    return f"00-{match.group(1)}-{secrets.token_hex(8)}-{match.group(3)}"


def trace_id(traceparent: str | None) -> str | None:
    match = _PATTERN.match(traceparent or "")
    return match.group(1) if match else None
