"""The ingest command the gateway publishes for every accepted inbound channel message."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from shared.events.base import Event, register
from shared.events.conversations import Channel


@register
class InboundMessageAcceptedV1(Event):
    """One provider notification item, already signature-checked by the gateway.

    `kind="message"` is a visitor message; `kind="status"` is a delivery or read receipt for a
    message we sent (`external_id` is then the id of that outbound message).
    Routing: `account_id` (phone_number_id, page id, Twilio number...) is resolved to a
    workspace by the consumer; web chat and signed integrator calls carry `workspace_id`.
    """

    TYPE = "inbound_message.accepted"
    kind: Literal["message", "status"] = "message"
    channel: Channel
    account_id: str | None = None
    workspace_id: UUID | None = None
    conversation_id: UUID | None = None
    visitor_id: str
    visitor_name: str | None = None
    visitor_contact: str | None = None
    external_id: str
    content: str = ""
    sent_at: datetime
    status: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    def aggregate_id(self) -> str:
        return f"{self.channel}:{self.account_id or self.workspace_id}:{self.visitor_id}"
