"""The signed inbound endpoint for integrators (`chatgpt`, `phone`).

Signature: `X-Base-Signature: sha256=<hex HMAC-SHA256>` over `<X-Base-Timestamp>.<raw body>`,
where `X-Base-Timestamp` is the Unix time in seconds, keyed with the secret of the channel
account named in `X-Base-Account` (its id; the secret is shown when the account is created or
its secret rotated). What that account signs goes to that account's workspace only. The
timestamp is inside the signed bytes so it cannot be replaced, and requests older (or newer)
than five minutes are refused: a captured request cannot be replayed later. Within the window a
replay is a duplicate, which the consumer drops by (channel, external_id).

Deprecated: without `X-Base-Account`, and only when INBOUND_SIGNING_SECRET is set, the one
platform-wide secret is accepted and the body names the workspace or account.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from gateway.webhooks.accounts import AccountSecret
from gateway.webhooks.common import MalformedPayload, Verdict, sha256_header_verdict
from shared.events import InboundMessageAcceptedV1
from shared.instants import Instant

SIGNATURE_HEADER = "X-Base-Signature"
TIMESTAMP_HEADER = "X-Base-Timestamp"
ACCOUNT_HEADER = "X-Base-Account"
TOLERANCE_SECONDS = 300
IntegratorChannel = Literal["chatgpt", "phone"]
INTEGRATOR_CHANNELS: tuple[str, ...] = ("chatgpt", "phone")

Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def signed_bytes(timestamp: str, body: bytes) -> bytes:
    return timestamp.encode() + b"." + body


def signature_verdict(
    secret: str,
    body: bytes,
    timestamp: str | None,
    header: str | None,
    now: float | None = None,
) -> Verdict:
    if not header or not timestamp:
        return Verdict.MISSING
    try:
        sent = int(timestamp)
    except ValueError:
        return Verdict.INVALID
    if abs((now if now is not None else time.time()) - sent) > TOLERANCE_SECONDS:
        return Verdict.INVALID
    return sha256_header_verdict(secret, signed_bytes(timestamp, body), header)


class InboundItem(BaseModel):
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    visitor_id: Short
    visitor_name: Short | None = None
    visitor_contact: Short | None = None
    content: Annotated[str, StringConstraints(max_length=10_000)]
    sent_at: Instant
    conversation_id: uuid.UUID | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class WrongAccount(Exception):
    """The body routes elsewhere than the account whose secret signed it."""


class InboundBatch(BaseModel):
    """`{"messages": [{external_id, visitor_id, content, sent_at, ...}]}`, routed to the
    signing account's workspace (`workspace_id` and `account_id` may be given; they must then
    be that account's). With the deprecated platform secret, exactly one of them routes."""

    workspace_id: uuid.UUID | None = None
    account_id: Short | None = None
    messages: list[InboundItem] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _at_most_one_route(self) -> InboundBatch:
        if self.workspace_id is not None and self.account_id is not None:
            raise ValueError("give at most one of workspace_id and account_id")
        return self


def parse_inbound(
    channel: IntegratorChannel, body: bytes, signer: AccountSecret | None = None
) -> list[InboundMessageAcceptedV1]:
    """The items of a signed body; `signer` is the account whose secret signed it (None:
    the deprecated platform-wide secret)."""
    try:
        batch = InboundBatch.model_validate_json(body)
    except ValueError as exc:
        raise MalformedPayload(str(exc)) from exc
    workspace_id, account_id = batch.workspace_id, batch.account_id
    if signer is None:
        if workspace_id is None and account_id is None:
            raise MalformedPayload("give exactly one of workspace_id and account_id")
    else:
        if workspace_id not in (None, signer.workspace_id) or account_id not in (
            None,
            signer.account_id,
        ):
            raise WrongAccount("The body routes to another account than the one that signed it")
        # Both, so the consumer routes through the verified account and checks they agree.
        workspace_id, account_id = signer.workspace_id, signer.account_id
    return [
        InboundMessageAcceptedV1(
            channel=channel,
            workspace_id=workspace_id,
            account_id=account_id,
            conversation_id=item.conversation_id,
            visitor_id=item.visitor_id,
            visitor_name=item.visitor_name,
            visitor_contact=item.visitor_contact,
            external_id=item.external_id,
            content=item.content,
            sent_at=item.sent_at,
            metadata=item.metadata,
        )
        for item in batch.messages
    ]
