"""Provider webhooks: signature checks and payload reading. Pure functions, no I/O."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from connectors.domain.errors import InvalidSignature
from shared.events.connectors import MOVED

SQUARE_CANCELLED = {"CANCELLED_BY_CUSTOMER", "CANCELLED_BY_SELLER", "DECLINED"}


def verify_calendly(
    header: str | None, body: bytes, signing_key: str, now: float, tolerance_seconds: int
) -> None:
    """`Calendly-Webhook-Signature: t=<unix>,v1=<hex hmac-sha256 of "t.body">`."""
    if not header:
        raise InvalidSignature("missing Calendly-Webhook-Signature header")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError) as exc:
        raise InvalidSignature("malformed Calendly-Webhook-Signature header") from exc
    if abs(now - timestamp) > tolerance_seconds:
        raise InvalidSignature("Calendly webhook timestamp outside the allowed window")
    expected = hmac.new(
        signing_key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    if not any(hmac.compare_digest(expected, v) for v in parts.get("v1", [])):
        raise InvalidSignature("Calendly webhook signature does not match")


def square_signature(notification_url: str, body: bytes, signature_key: str) -> str:
    digest = hmac.new(signature_key.encode(), notification_url.encode() + body, hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def verify_square(
    header: str | None, notification_url: str, body: bytes, signature_key: str
) -> None:
    """`x-square-hmacsha256-signature`: base64 HMAC-SHA256 of the URL followed by the body."""
    if not header:
        raise InvalidSignature("missing x-square-hmacsha256-signature header")
    expected = square_signature(notification_url, body, signature_key)
    if not hmac.compare_digest(expected, header.strip()):
        raise InvalidSignature("Square webhook signature does not match")


@dataclass(frozen=True)
class ProviderBookingEvent:
    """A provider notification in the platform's terms."""

    provider: Literal["calendly", "square"]
    delivery_key: str  # identifies this notification; retries repeat it
    event_type: str  # the provider's event name
    kind: Literal["created", "cancelled", "ignored"]
    booking_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    service: str | None = None
    visitor_name: str | None = None
    visitor_email: str | None = None
    visitor_phone: str | None = None
    reason: str | None = None
    # References that identify the account, in order of preference.
    account_refs: list[str] = field(default_factory=list)
    location_ref: str | None = None


class MalformedWebhook(ValueError):
    pass


def _dt(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _last(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def read_calendly(body: dict[str, Any]) -> ProviderBookingEvent:
    try:
        name = str(body["event"])
        payload = body.get("payload") or {}
        invitee_uri = str(payload.get("uri") or "")
        scheduled = payload.get("scheduled_event") or {}
        event_uri = str(payload.get("event") or scheduled.get("uri") or "")
    except (KeyError, TypeError, AttributeError) as exc:
        raise MalformedWebhook("not a Calendly webhook payload") from exc
    refs = [str(body["created_by"])] if body.get("created_by") else []
    refs += [
        str(m["user"])
        for m in scheduled.get("event_memberships") or []
        if isinstance(m, dict) and m.get("user")
    ]
    kind: Literal["created", "cancelled", "ignored"] = {
        "invitee.created": "created",
        "invitee.canceled": "cancelled",
    }.get(name, "ignored")  # type: ignore[assignment]
    if kind != "ignored" and not (invitee_uri and event_uri):
        raise MalformedWebhook("Calendly webhook without invitee or event")
    cancellation = payload.get("cancellation") or {}
    return ProviderBookingEvent(
        provider="calendly",
        delivery_key=f"{name}:{invitee_uri or body.get('created_at')}",
        event_type=name,
        kind=kind,
        booking_id=_last(event_uri) if event_uri else None,
        start=_dt(scheduled.get("start_time")),
        end=_dt(scheduled.get("end_time")),
        service=scheduled.get("event_type"),
        visitor_name=payload.get("name"),
        visitor_email=payload.get("email"),
        visitor_phone=payload.get("text_reminder_number"),
        # A reschedule cancels the old invitee (`rescheduled: true`) and creates a new one.
        reason=MOVED if payload.get("rescheduled") is True else cancellation.get("reason"),
        account_refs=refs,
    )


def read_square(body: dict[str, Any]) -> ProviderBookingEvent:
    try:
        name = str(body["type"])
        event_id = str(body["event_id"])
    except (KeyError, TypeError) as exc:
        raise MalformedWebhook("not a Square webhook payload") from exc
    data = body.get("data") or {}
    booking = (data.get("object") or {}).get("booking") or {}
    status = booking.get("status")
    kind: Literal["created", "cancelled", "ignored"] = "ignored"
    if name == "booking.created" and booking:
        kind = "cancelled" if status in SQUARE_CANCELLED else "created"
    elif name == "booking.updated" and status in SQUARE_CANCELLED:
        kind = "cancelled"
    segments = booking.get("appointment_segments") or []
    start = _dt(booking.get("start_at"))
    minutes = sum(int(s.get("duration_minutes") or 0) for s in segments if isinstance(s, dict))
    end = None
    if start and minutes:
        end = start + timedelta(minutes=minutes)
    return ProviderBookingEvent(
        provider="square",
        delivery_key=event_id,
        event_type=name,
        kind=kind,
        booking_id=booking.get("id") or data.get("id"),
        start=start,
        end=end,
        service=segments[0].get("service_variation_id") if segments else None,
        reason=f"status {status}" if kind == "cancelled" else None,
        account_refs=[str(body["merchant_id"])] if body.get("merchant_id") else [],
        location_ref=booking.get("location_id") or body.get("location_id"),
    )
