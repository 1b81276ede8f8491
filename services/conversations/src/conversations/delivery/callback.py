"""Integrators (`chatgpt`, `phone`): each reply is POSTed as JSON to the account's
`callback_url`, signed like the integrator's inbound calls to us.

Headers: `X-Base-Timestamp: <unix seconds>` and `X-Base-Signature: sha256=<hex
HMAC-SHA256(signing_secret, "<timestamp>.<raw body>")>`; body `{"message_id",
"conversation_id", "workspace_id", "channel", "account_id", "visitor_id", "role", "content",
"sent_at"}`. A 2xx is `sent` (an `{"id": ...}` in the answer is kept as the external id);
429 is retried after its Retry-After; 5xx or a timeout is `unknown`; any other 4xx `failed`.

The integrator's server is anybody's, so its calls are short and guarded (delivery/guard.py):
`DELIVERY_CALLBACK_CONNECT_TIMEOUT_SECONDS` to connect (then parked and retried later, never
inline), `DELIVERY_CALLBACK_TIMEOUT_SECONDS` for the whole call; an address that is not
public is refused before connecting, and a redirect is not followed (a 3xx is `failed`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import httpx

from conversations.delivery.base import (
    Attempt,
    Fields,
    OutboundMessage,
    SenderConfig,
    call,
    json_of,
    retry_after_seconds,
    server_error,
)
from conversations.delivery.guard import RefusedAddress
from conversations.domain.credentials import AnyCredentials, CallbackCredentials

SIGNATURE_HEADER = "X-Base-Signature"
TIMESTAMP_HEADER = "X-Base-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class CallbackSender:
    channels = ("chatgpt", "phone")

    def __init__(
        self,
        client: httpx.AsyncClient,
        config: SenderConfig,
        connect_timeout: float = 2.0,
        total_timeout: float = 5.0,
    ) -> None:
        self.client = client  # a guarded client (delivery/guard.py), not the providers' one
        self.config = config
        self.total_timeout = total_timeout
        self.timeout = httpx.Timeout(total_timeout, connect=connect_timeout, pool=connect_timeout)

    async def send(self, message: OutboundMessage, credentials: AnyCredentials) -> Attempt:
        assert isinstance(credentials, CallbackCredentials)
        if credentials.signing_secret is None:
            return Attempt("failed", error="the channel account has no signing_secret")
        body = json.dumps(
            {
                "message_id": str(message.message_id),
                "conversation_id": str(message.conversation_id),
                "workspace_id": str(message.workspace_id),
                "channel": message.channel,
                "account_id": message.account_id,
                "visitor_id": message.recipient,
                "role": message.role,
                "content": message.content,
                "sent_at": datetime.now(UTC).isoformat(),
            },
            separators=(",", ":"),
        ).encode()
        timestamp = str(int(time.time()))
        secret = credentials.signing_secret.get_secret_value()
        parts = Fields(
            content=body,
            headers={
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(secret, timestamp, body),
            },
        )
        channel = message.channel
        try:
            async with asyncio.timeout(self.total_timeout):
                response = await call(
                    self.client,
                    f"{channel} callback",
                    credentials.callback_url,
                    parts,
                    self.timeout,
                )
        except TimeoutError:
            return Attempt(
                "unknown",
                error=f"{channel} callback did not answer within {self.total_timeout:g}s; it "
                "may have received the reply, so it is not resent automatically",
            )
        except RefusedAddress as exc:
            return Attempt(
                "failed",
                error=f"{channel} callback refused: {exc}; replies go to public addresses only, "
                "so it was not sent (update callback_url)",
            )
        if isinstance(response, Attempt):
            return response
        status = response.status_code
        if status == 429:
            return Attempt(
                "retry",
                error=f"{channel} callback answered 429",
                retry_after=retry_after_seconds(response),
            )
        if status >= 500:
            return server_error(f"{channel} callback", response, f"HTTP {status}")
        if status >= 300:
            return Attempt("failed", error=f"{channel} callback refused it (HTTP {status})")
        external = json_of(response).get("id")
        return Attempt("sent", external_id=str(external)[:255] if external else None)
