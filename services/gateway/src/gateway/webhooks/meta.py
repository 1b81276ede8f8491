"""Meta webhooks (WhatsApp Cloud API, Messenger, Instagram): handshake, signature, parsing.

- Verification: Meta calls `GET ?hub.mode=subscribe&hub.verify_token=<ours>&hub.challenge=<n>`
  and expects the challenge echoed back.
- Signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, app secret>`.
- WhatsApp: `entry[].changes[].value` carries `metadata.phone_number_id` (routing),
  `contacts[]`, `messages[]` (visitor messages) and `statuses[]` (receipts of our sends).
- Messenger (`object="page"`) and Instagram (`object="instagram"`): `entry[].id` is the page or
  Instagram account id (routing) and `entry[].messaging[]` holds `{sender, recipient,
  timestamp (ms), message: {mid, text, attachments, is_echo}}`. Echoes of the business's own
  sends and other events (reactions...) are skipped. `delivery: {watermark, mids}` and
  `read: {watermark}` (epoch ms: every message we sent before it was delivered / read) are
  published as receipts with the watermark in `metadata`; Instagram's `read: {mid}` names
  the message itself.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from gateway.webhooks.common import MalformedPayload, Verdict, sha256_header_verdict
from shared.events import InboundMessageAcceptedV1

SIGNATURE_HEADER = "X-Hub-Signature-256"


def signature_verdict(app_secret: str, body: bytes, header: str | None) -> Verdict:
    return sha256_header_verdict(app_secret, body, header)


def verification_challenge(params: Mapping[str, str], verify_token: str) -> str | None:
    """The challenge to echo when Meta's subscription handshake carries our verify token."""
    token = params.get("hub.verify_token", "")
    challenge = params.get("hub.challenge")
    if params.get("hub.mode") != "subscribe" or challenge is None:
        return None
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        return None
    return challenge


def _list(container: Mapping[str, Any], key: str) -> list[Any]:
    value = container.get(key, [])
    if not isinstance(value, list):
        raise MalformedPayload(f"{key!r} must be a list")
    return value


def _instant(seconds: float) -> datetime:
    """A provider's epoch time; one outside what a datetime holds (1e400, 10**30) is a
    malformed payload, not an overflow."""
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise MalformedPayload(f"timestamp out of range: {seconds!r}"[:120]) from exc


def _seconds(value: Any) -> datetime:
    return _instant(int(value))


def _whatsapp_content(message: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    kind = message.get("type", "text")
    found = message.get(kind)
    body: dict[str, Any] = found if isinstance(found, dict) else {}
    metadata: dict[str, Any] = {"type": kind}
    if kind == "text":
        return str(body.get("body", "")), metadata
    if kind in ("image", "video", "audio", "document", "sticker"):
        metadata["media_id"] = body.get("id")
        return str(body.get("caption") or f"[{kind}]"), metadata
    if kind == "interactive":
        reply = body.get("button_reply") or body.get("list_reply") or {}
        return str(reply.get("title", "")), metadata
    if kind == "button":
        # A template's quick-reply button: the payload says what was answered to what
        # (reminders: `reminder:confirm:<booking id>`).
        if body.get("payload"):
            metadata["payload"] = str(body["payload"])[:256]
        return str(body.get("text", "")), metadata
    if kind == "location":
        metadata["location"] = body
        return str(body.get("name") or body.get("address") or "[location]"), metadata
    return f"[{kind}]", metadata


def _status_metadata(status: Mapping[str, Any]) -> dict[str, Any]:
    """Errors of a failed send, and our own message id echoed back (biz_opaque_callback_data)."""
    metadata: dict[str, Any] = {}
    if status.get("errors"):
        metadata["errors"] = status["errors"]
    if status.get("biz_opaque_callback_data"):
        metadata["callback_data"] = str(status["biz_opaque_callback_data"])[:512]
    return metadata


def _receipt(
    event: Mapping[str, Any], channel: Literal["messenger", "instagram"], account_id: str
) -> InboundMessageAcceptedV1 | None:
    """A `delivery` or `read` event about our sends, or None for anything else."""
    for key, status in (("delivery", "delivered"), ("read", "read")):
        body = event.get(key)
        if not isinstance(body, dict):
            continue
        at = _instant(int(event.get("timestamp") or 0) / 1000)
        visitor = str(event["sender"]["id"])
        if body.get("watermark") is not None:
            watermark = int(body["watermark"])
            return InboundMessageAcceptedV1(
                kind="status",
                channel=channel,
                account_id=account_id,
                visitor_id=visitor,
                external_id=f"{key}:{visitor}:{watermark}",
                status=status,
                sent_at=at if at.timestamp() > 0 else _instant(watermark / 1000),
                metadata={"watermark": watermark, "mids": list(body.get("mids") or [])},
            )
        if body.get("mid"):
            return InboundMessageAcceptedV1(
                kind="status",
                channel=channel,
                account_id=account_id,
                visitor_id=visitor,
                external_id=str(body["mid"]),
                status=status,
                sent_at=at,
            )
    return None


def parse_whatsapp(payload: Any) -> list[InboundMessageAcceptedV1]:
    """Every message and status of a WhatsApp Cloud API notification, in payload order."""
    try:
        if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
            raise MalformedPayload("not a WhatsApp Business Account notification")
        items: list[InboundMessageAcceptedV1] = []
        for entry in _list(payload, "entry"):
            for change in _list(entry, "changes"):
                if change.get("field") != "messages":
                    continue
                value = change["value"]
                phone_number_id = str(value["metadata"]["phone_number_id"])
                names = {
                    str(c.get("wa_id")): (c.get("profile") or {}).get("name")
                    for c in _list(value, "contacts")
                }
                for message in _list(value, "messages"):
                    sender = str(message["from"])
                    content, metadata = _whatsapp_content(message)
                    items.append(
                        InboundMessageAcceptedV1(
                            channel="whatsapp",
                            account_id=phone_number_id,
                            visitor_id=sender,
                            visitor_name=names.get(sender),
                            visitor_contact=f"+{sender}",
                            external_id=str(message["id"]),
                            content=content,
                            sent_at=_seconds(message["timestamp"]),
                            metadata=metadata,
                        )
                    )
                for status in _list(value, "statuses"):
                    items.append(
                        InboundMessageAcceptedV1(
                            kind="status",
                            channel="whatsapp",
                            account_id=phone_number_id,
                            visitor_id=str(status["recipient_id"]),
                            external_id=str(status["id"]),
                            status=str(status["status"]),
                            sent_at=_seconds(status["timestamp"]),
                            metadata=_status_metadata(status),
                        )
                    )
        return items
    except MalformedPayload:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise MalformedPayload(f"malformed WhatsApp notification: {exc}") from exc


def parse_messaging(
    payload: Any, channel: Literal["messenger", "instagram"]
) -> list[InboundMessageAcceptedV1]:
    """Visitor messages of a Messenger or Instagram messaging notification."""
    expected = "page" if channel == "messenger" else "instagram"
    try:
        if not isinstance(payload, dict) or payload.get("object") != expected:
            raise MalformedPayload(f"not a {channel} notification")
        items: list[InboundMessageAcceptedV1] = []
        for entry in _list(payload, "entry"):
            account_id = str(entry["id"])
            for event in _list(entry, "messaging"):
                receipt = _receipt(event, channel, account_id)
                if receipt is not None:
                    items.append(receipt)
                    continue
                message = event.get("message")
                if not isinstance(message, dict) or message.get("is_echo"):
                    continue
                attachments = [
                    {"type": a.get("type"), "url": (a.get("payload") or {}).get("url")}
                    for a in _list(message, "attachments")
                ]
                content = message.get("text") or " ".join(f"[{a['type']}]" for a in attachments)
                items.append(
                    InboundMessageAcceptedV1(
                        channel=channel,
                        account_id=account_id,
                        visitor_id=str(event["sender"]["id"]),
                        external_id=str(message["mid"]),
                        content=str(content),
                        sent_at=_instant(int(event["timestamp"]) / 1000),
                        metadata={"attachments": attachments} if attachments else {},
                    )
                )
        return items
    except MalformedPayload:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise MalformedPayload(f"malformed {channel} notification: {exc}") from exc
