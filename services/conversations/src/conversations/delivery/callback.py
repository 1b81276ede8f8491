"""Integrators (`chatgpt`, `phone`): each reply is POSTed as JSON to the account's
`callback_url`, signed like the integrator's inbound calls to us.

Headers: `X-Base-Timestamp: <unix seconds>` and `X-Base-Signature: sha256=<hex
HMAC-SHA256(signing_secret, "<timestamp>.<raw body>")>`; body `{"message_id",
"conversation_id", "workspace_id", "channel", "account_id", "visitor_id", "role", "content",
"sent_at"}`. A 2xx is `sent` (an `{"id": ...}` in the answer is kept as the external id);
429 is retried after its Retry-After; 5xx or a timeout is `unknown`; any other 4xx `failed`.
"""

from __future__ import annotations

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
from conversations.domain.credentials import AnyCredentials, CallbackCredentials

SIGNATURE_HEADER = "X-Base-Signature"
TIMESTAMP_HEADER = "X-Base-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class CallbackSender:
    channels = ("chatgpt", "phone")

    def __init__(self, client: httpx.AsyncClient, config: SenderConfig) -> None:
        self.client = client
        self.config = config

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
        response = await call(
            self.client, channel, credentials.callback_url, parts, self.config.timeout_seconds
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
