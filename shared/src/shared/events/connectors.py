"""Events produced by the connectors service. Credentials never appear here."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from shared.events.base import Event, register

Provider = Literal["calendly", "square", "agendapro", "builtin"]

# `BookingCancelledV1.reason` when the booking was moved to another time rather than called
# off (the new time is a booking of its own): consumers tell a move from a cancellation.
MOVED = "moved"


class _ConnectorState(Event):
    connector_id: UUID
    workspace_id: UUID
    provider: Provider
    name: str

    def aggregate_id(self) -> str:
        return str(self.workspace_id)


@register
class ConnectorActivatedV1(_ConnectorState):
    TYPE = "connector.activated"


@register
class ConnectorDeactivatedV1(_ConnectorState):
    TYPE = "connector.deactivated"


@register
class BookingCreatedV1(Event):
    TYPE = "booking.created"
    workspace_id: UUID
    connector_id: UUID
    provider: Provider
    booking_id: str  # the provider's id
    event_type: str | None = None
    start: datetime
    end: datetime | None = None
    visitor_name: str | None = None
    visitor_email: str | None = None
    visitor_phone: str | None = None
    # "platform" when booked through our API (the agent), "provider" when made outside it.
    source: Literal["platform", "provider"]
    conversation_id: UUID | None = None
    contact_id: UUID | None = None  # the conversations service's contact, when booked there

    def aggregate_id(self) -> str:
        return f"{self.provider}:{self.booking_id}"


@register
class BookingCancelledV1(Event):
    TYPE = "booking.cancelled"
    workspace_id: UUID
    connector_id: UUID
    provider: Provider
    booking_id: str
    reason: str | None = None
    source: Literal["platform", "provider"]

    def aggregate_id(self) -> str:
        return f"{self.provider}:{self.booking_id}"


@register
class BookingMarkedV1(Event):
    """The owner's marks on a booking changed: whether the visitor came (`attendance`, null
    when cleared) and when the visitor confirmed they would."""

    TYPE = "booking.marked"
    workspace_id: UUID
    connector_id: UUID
    provider: Provider
    booking_id: str
    attendance: Literal["attended", "no_show"] | None = None
    visitor_confirmed_at: datetime | None = None

    def aggregate_id(self) -> str:
        return f"{self.provider}:{self.booking_id}"
