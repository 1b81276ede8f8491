"""The one interface every channel sender implements, and the HTTP plumbing they share.

A sender makes exactly one provider call per `send()` and says what came of it:
- `sent`: the provider took it (and gave its message id, when it has one);
- `retry`: the provider documents that it did not process the request (429, throughput
  limits) or the connection was never made: safe to send again, after `retry_after` (or,
  `later`, after a connect timeout: from the parking queue, not inline);
- `failed`: refused for good (bad token, unreachable recipient, opted out...);
- `unknown`: the request may have been processed (timeout after sending, 5xx): it is never
  repeated automatically, since none of the providers offers an idempotency key.
"""

from __future__ import annotations

import email.utils
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

from conversations.domain.credentials import AnyCredentials

Kind = Literal["sent", "retry", "failed", "unknown"]


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """What a sender needs, and nothing else: no row, no session."""

    message_id: uuid.UUID
    channel: str
    account_id: str  # phone_number_id, page id, Instagram account id, Twilio number
    recipient: str  # the visitor's id on the channel
    content: str
    role: str
    conversation_id: uuid.UUID
    workspace_id: uuid.UUID
    tag: str | None = None  # Messenger/Instagram message tag (HUMAN_AGENT)
    template: dict[str, Any] | None = None  # WhatsApp template {name, language, parameters}


@dataclass(frozen=True, slots=True)
class Attempt:
    kind: Kind
    external_id: str | None = None
    error: str | None = None
    code: str | None = None
    retry_after: float | None = None
    opted_out: bool = False  # Twilio 21610: the visitor sent STOP
    later: bool = False  # a `retry` not to wait for inline (a timeout): the delivery parks it


@dataclass(frozen=True, slots=True)
class SenderConfig:
    graph_api_base_url: str
    graph_api_version: str
    twilio_api_base_url: str
    public_base_url: str
    timeout_seconds: float


class Sender(Protocol):
    channels: tuple[str, ...]

    async def send(self, message: OutboundMessage, credentials: AnyCredentials) -> Attempt: ...


@dataclass
class Fields:
    """Parts of a request for `call()`."""

    json: Any = None
    data: dict[str, str] | None = None
    content: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None


def retry_after_seconds(response: httpx.Response) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


async def call(
    client: httpx.AsyncClient,
    provider: str,
    url: str,
    parts: Fields,
    timeout: float | httpx.Timeout,
) -> httpx.Response | Attempt:
    """One POST; transport failures already classified (the response otherwise)."""
    waited = timeout.read if isinstance(timeout, httpx.Timeout) else timeout
    try:
        return await client.post(
            url,
            json=parts.json,
            data=parts.data,
            content=parts.content,
            params=parts.params or None,
            headers=parts.headers,
            auth=parts.auth,
            timeout=timeout,
        )
    except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        # Nothing reached the provider, but waiting again now would hold a consumer's slot
        # for another timeout: safe to send again, later (the delivery parks it).
        return Attempt("retry", error=f"{provider} unreachable ({type(exc).__name__})", later=True)
    except httpx.ConnectError as exc:
        # No connection, so nothing reached the provider: safe to try again.
        return Attempt("retry", error=f"{provider} unreachable ({type(exc).__name__})")
    except httpx.TimeoutException:
        return Attempt(
            "unknown",
            error=f"{provider} did not answer within {waited:g}s; it may have sent the "
            "message, so it is not resent automatically",
        )
    except httpx.TransportError as exc:
        return Attempt(
            "unknown",
            error=f"{provider} connection broke after the request ({type(exc).__name__}); "
            "it may have sent the message, so it is not resent automatically",
        )


def json_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def server_error(provider: str, response: httpx.Response, detail: str) -> Attempt:
    return Attempt(
        "unknown",
        error=f"{provider} answered {response.status_code} ({detail}); it may have sent the "
        "message, so it is not resent automatically",
    )


def safe_path(value: str) -> str:
    """An account id that goes into a URL path, escaped so it cannot change the path."""
    from urllib.parse import quote

    return quote(value, safe="")
