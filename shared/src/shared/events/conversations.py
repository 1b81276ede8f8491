"""Events produced by the conversations service; the agent consumes `message.received`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from shared.events.base import Event, register

Channel = Literal["web", "instagram", "whatsapp", "sms", "messenger", "chatgpt", "phone"]
Role = Literal["visitor", "agent", "owner"]


@register
class ConversationStartedV1(Event):
    TYPE = "conversation.started"
    conversation_id: UUID
    workspace_id: UUID
    channel: Channel
    visitor_id: str
    visitor_name: str | None = None
    started_at: datetime

    def aggregate_id(self) -> str:
        return str(self.conversation_id)


@register
class MessageReceivedV1(Event):
    TYPE = "message.received"
    message_id: UUID
    conversation_id: UUID
    workspace_id: UUID
    channel: Channel
    role: Role
    content: str
    external_id: str | None = None
    sent_at: datetime

    def aggregate_id(self) -> str:
        return str(self.conversation_id)


DeliveryStatus = Literal["pending", "sent", "delivered", "read", "failed", "unknown"]


@register
class MessageReplyRequestedV1(Event):
    """An outbound reply (the owner's or the agent's) was stored `pending`: send it once.

    The delivery consumer reads the message row itself; the payload carries what routing
    and logs need, never credentials.
    """

    TYPE = "message.reply_requested"
    message_id: UUID
    conversation_id: UUID
    workspace_id: UUID
    channel: Channel
    role: Literal["agent", "owner"]

    def aggregate_id(self) -> str:
        return str(self.conversation_id)


@register
class MessageDeliveryUpdatedV1(Event):
    """An outbound message moved to a new delivery state (forward only; failed from any)."""

    TYPE = "message.delivery_updated"
    message_id: UUID
    conversation_id: UUID
    workspace_id: UUID
    channel: Channel
    delivery_status: DeliveryStatus
    delivery_error: str | None = None
    updated_at: datetime

    def aggregate_id(self) -> str:
        return str(self.conversation_id)


@register
class ConversationHandedOffV1(Event):
    """The agent stepped back: the conversation waits for the owner (`pending`)."""

    TYPE = "conversation.handed_off"
    conversation_id: UUID
    workspace_id: UUID
    channel: Channel
    reason: str
    visitor_name: str | None = None
    handed_off_at: datetime
    # Additive: whom to tell (the gateway e-mails the workspace's owner).
    owner_id: UUID | None = None

    def aggregate_id(self) -> str:
        return str(self.conversation_id)
