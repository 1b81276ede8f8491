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
