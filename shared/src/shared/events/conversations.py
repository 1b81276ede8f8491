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
    # Additive: the person the conversation belongs to (contacts).
    contact_id: UUID | None = None

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


@register
class BookingChangedByVisitorV1(Event):
    """A visitor cancelled or moved their booking by talking to the agent (often their answer
    to a reminder); the gateway e-mails the workspace's owner."""

    TYPE = "booking.changed_by_visitor"
    workspace_id: UUID
    conversation_id: UUID
    owner_id: UUID | None = None
    channel: Channel
    visitor_name: str | None = None
    change: Literal["cancelled", "moved"]
    booking_id: str
    service: str
    start: datetime  # the start that was given up
    new_start: datetime | None = None  # where it moved to
    timezone: str  # the workspace's, to say the times as the owner reads them
    after_reminder: bool = False
    changed_at: datetime

    def aggregate_id(self) -> str:
        return str(self.conversation_id)


# Contacts: the person behind conversations, one per workspace. Phones are E.164; a
# `*_verified` flag says the channel or a one-time code proved the value (else a claim).


@register
class ContactCreatedV1(Event):
    """A person wrote for the first time (or an owner recorded a conversation with them)."""

    TYPE = "contact.created"
    contact_id: UUID
    workspace_id: UUID
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    phone_verified: bool = False
    email_verified: bool = False
    # The channel of the identity that created it.
    channel: Channel | None = None
    created_at: datetime

    def aggregate_id(self) -> str:
        return str(self.contact_id)


@register
class ContactUpdatedV1(Event):
    """Name, phone or e-mail changed (the owner, the agent, a verification); the payload is
    the contact as it is now, `changed` names what moved."""

    TYPE = "contact.updated"
    contact_id: UUID
    workspace_id: UUID
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    phone_verified: bool = False
    email_verified: bool = False
    changed: list[Literal["name", "phone", "email"]]
    updated_at: datetime

    def aggregate_id(self) -> str:
        return str(self.contact_id)


@register
class ContactMergedV1(Event):
    """`merged_contact_id` is gone: its identities and conversations now belong to
    `contact_id`. Whatever refers to the merged contact (bookings) should follow."""

    TYPE = "contact.merged"
    contact_id: UUID
    merged_contact_id: UUID
    workspace_id: UUID
    conversation_ids: list[UUID]
    merged_at: datetime

    def aggregate_id(self) -> str:
        return str(self.contact_id)


@register
class ContactDeletedV1(Event):
    """A contact was removed with its workspace (one event per contact)."""

    TYPE = "contact.deleted"
    contact_id: UUID
    workspace_id: UUID
    reason: Literal["workspace_deleted"]
    deleted_at: datetime

    def aggregate_id(self) -> str:
        return str(self.contact_id)


@register
class NotificationEmailRequestedV1(Event):
    """A plain-text e-mail to a visitor (a booking reminder or confirmation for someone
    with no chat channel to reach); the gateway, which owns e-mail, sends it."""

    TYPE = "notification.email_requested"
    workspace_id: UUID
    to: str
    subject: str
    text: str

    def aggregate_id(self) -> str:
        return str(self.workspace_id)
