"""What providers answer, in the platform's own words (no provider shapes leak out)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

BookingStatus = Literal["confirmed", "cancelled"]


@dataclass(frozen=True, slots=True)
class EventType:
    id: str
    name: str
    duration_minutes: int | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime  # aware, in the workspace's timezone
    end: datetime | None = None
    staff_id: str | None = None


@dataclass(frozen=True, slots=True)
class Visitor:
    name: str
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class BookingRequest:
    event_type: str
    start: datetime
    visitor: Visitor
    timezone: str
    idempotency_key: str
    staff_id: str | None = None
    notes: str | None = None
    conversation_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    # How many bookings made with this key were cancelled since: each rebooking is a new
    # request to a provider that de-duplicates by key, so it must not carry the old key.
    rebooking: int = 0

    @property
    def provider_idempotency_key(self) -> str:
        """The key a provider that honours idempotency keys (Square) is sent."""
        if not self.rebooking:
            return self.idempotency_key
        return f"{self.idempotency_key}.rebook-{self.rebooking}"


@dataclass(frozen=True, slots=True)
class ConnectorScope:
    """Which connector and workspace a call acts for: what a provider that keeps its own
    records (the built-in calendar) needs beyond its config."""

    connector_id: uuid.UUID
    workspace_id: uuid.UUID
    timezone: str


@dataclass(frozen=True, slots=True)
class Booking:
    id: str
    start: datetime
    end: datetime | None = None
    status: BookingStatus = "confirmed"
    event_type: str | None = None


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """What a credentials check learns; the refs route webhooks to the right connector."""

    name: str | None = None
    account_ref: str | None = None  # Calendly user URI, Square merchant id, AgendaPro company
    organization_ref: str | None = None  # Calendly organization URI
    details: dict[str, str] = field(default_factory=dict)
