"""Twilio SMS webhooks: request validation and parsing.

Twilio signs each request: the full URL it called (our PUBLIC_BASE_URL + path + query), then
every POST parameter sorted by name, name and value appended with no separator; HMAC-SHA1
with the account's auth token; base64. It sends the result as `X-Twilio-Signature`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime

from gateway.webhooks.common import MalformedPayload, Verdict
from shared.events import InboundMessageAcceptedV1

SIGNATURE_HEADER = "X-Twilio-Signature"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def expected_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature_verdict(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], header: str | None
) -> Verdict:
    if not header:
        return Verdict.MISSING
    expected = expected_signature(auth_token, url, params)
    ok = hmac.compare_digest(expected.encode(), header.strip().encode())
    return Verdict.OK if ok else Verdict.INVALID


def parse_sms(params: Iterable[tuple[str, str]], received_at: datetime) -> InboundMessageAcceptedV1:
    """One inbound SMS/MMS, routed by `To` (our Twilio number). Twilio sends no send time."""
    form = dict(params)
    sid = form.get("MessageSid") or form.get("SmsSid")
    sender, to = form.get("From"), form.get("To")
    if not sid or not sender or not to:
        raise MalformedPayload("MessageSid, From and To are required")
    try:
        media_count = int(form.get("NumMedia") or 0)
    except ValueError as exc:
        raise MalformedPayload("NumMedia must be a number") from exc
    media = [
        {"url": form.get(f"MediaUrl{i}"), "content_type": form.get(f"MediaContentType{i}")}
        for i in range(min(media_count, 10))
    ]
    body = form.get("Body", "")
    return InboundMessageAcceptedV1(
        channel="sms",
        account_id=to,
        visitor_id=sender,
        visitor_contact=sender,
        external_id=sid,
        content=body or " ".join("[media]" for _ in media),
        sent_at=received_at,
        metadata={"media": media} if media else {},
    )


def parse_status(
    params: Iterable[tuple[str, str]], received_at: datetime
) -> InboundMessageAcceptedV1:
    """A StatusCallback for a message we sent: `MessageSid`, `MessageStatus` (queued, sent,
    delivered, undelivered, failed, read...), `ErrorCode`/`ErrorMessage` when it failed;
    `From` is our number (routing), `To` the visitor."""
    form = dict(params)
    sid = form.get("MessageSid") or form.get("SmsSid")
    status = form.get("MessageStatus") or form.get("SmsStatus")
    ours, visitor = form.get("From"), form.get("To")
    if not sid or not status or not ours or not visitor:
        raise MalformedPayload("MessageSid, MessageStatus, From and To are required")
    metadata: dict[str, str] = {}
    if form.get("ErrorCode"):
        metadata["error_code"] = form["ErrorCode"]
        if form.get("ErrorMessage"):
            metadata["error_message"] = form["ErrorMessage"]
    return InboundMessageAcceptedV1(
        kind="status",
        channel="sms",
        account_id=ours,
        visitor_id=visitor,
        external_id=sid,
        status=status,
        sent_at=received_at,
        metadata=metadata,
    )
