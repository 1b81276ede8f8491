"""Tables of the `conversations` schema. Only this service reads or writes them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import inbox_table, make_metadata, outbox_table

SCHEMA = "conversations"

CHANNEL_CHECK = (
    "channel IN ('web', 'instagram', 'whatsapp', 'sms', 'messenger', 'chatgpt', 'phone')"
)


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)


outbox = outbox_table(Base.metadata)
inbox = inbox_table(Base.metadata)


class Workspace(Base):
    """Local projection of the workspaces service, fed by `workspace.*` events.

    A deleted workspace stays as a tombstone so a late `workspace.updated` cannot revive it.
    Handles are unique upstream, not here: events of two workspaces may arrive out of order.
    """

    __tablename__ = "workspaces"
    __table_args__ = (
        Index("ix_workspaces_owner_id", "owner_id"),
        Index("ix_workspaces_handle", "handle"),
    )

    id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True), primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True))
    handle: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64))
    # What the agent greets with and how it speaks (friendly, professional, casual, formal).
    name: Mapped[str] = mapped_column(String(200), server_default="")
    tone: Mapped[str] = mapped_column(String(20), server_default="friendly")
    deleted: Mapped[bool] = mapped_column(server_default=text("false"))
    # occurred_at of the event that wrote this row: older snapshots never overwrite newer ones.
    source_updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Live streams: the last change number handed out in this workspace (migration 0004).
    live_seq: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # Business facts the agent answers from (migration 0006), as the workspaces service
    # checked them; policies {"cancellation", "lateness", "deposit"}, faq
    # [{"question", "answer", "language"}].
    address: Mapped[str | None] = mapped_column(Text)
    map_url: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    payment_methods: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    policies: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    faq: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))


class ChannelAccount(Base):
    """A workspace's claim on a provider account. Every claim is stored; only a verified one
    routes inbound messages, and only one verified claim exists per provider account."""

    __tablename__ = "channel_accounts"
    __table_args__ = (
        UniqueConstraint("workspace_id", "channel", "account_id"),
        CheckConstraint(CHANNEL_CHECK, name="channel"),
        CheckConstraint(
            "verification IN ('verified', 'unverified', 'failed')", name="verification"
        ),
        Index("ix_channel_accounts_workspace_id", "workspace_id"),
        Index(
            "uq_channel_accounts_verified",
            "channel",
            "account_id",
            unique=True,
            postgresql_where=text("verification = 'verified'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        PGUUID(as_uuid=True), primary_key=True, default=uuid.uuid4
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))
    account_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Typed per channel (domain.credentials), encrypted with shared.crypto.Vault; NULL for an
    # account that only receives (replies on it fail with that reason).
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    # The provider's answer on whether the credentials reach this account (migration 0007).
    verification: Mapped[str] = mapped_column(String(20), server_default="unverified")
    verification_reason: Mapped[str | None] = mapped_column(String(500))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Integrators (chatgpt, phone) sign what they post with this, encrypted like the
    # credentials; the gateway asks for it to check X-Base-Signature.
    inbound_secret_encrypted: Mapped[str | None] = mapped_column(Text)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("workspace_id", "channel", "visitor_id"),
        CheckConstraint(CHANNEL_CHECK, name="channel"),
        CheckConstraint("status IN ('open', 'pending', 'resolved')", name="status"),
        CheckConstraint("time_saved_seconds >= 0", name="time_saved_not_negative"),
        CheckConstraint("message_count >= 0", name="message_count_not_negative"),
        Index("ix_conversations_workspace_activity", "workspace_id", text("last_activity_at DESC")),
        Index("ix_conversations_tags", "tags", postgresql_using="gin"),
        Index("ix_conversations_workspace_live", "workspace_id", "live_seq"),
        Index("ix_conversations_contact_id", "contact_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        PGUUID(as_uuid=True), primary_key=True, default=uuid.uuid4
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))
    visitor_id: Mapped[str] = mapped_column(String(200))
    visitor_name: Mapped[str | None] = mapped_column(String(200))
    visitor_contact: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), server_default="open")
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default=text("'{}'"))
    time_saved_seconds: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    message_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_message_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # last_message_at, or started_at while there is no message: "newest activity first".
    last_activity_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    # Workspace change number of the last live change (insert, status), stamped at commit by
    # a trigger (migration 0004); NULL until that commit.
    live_seq: Mapped[int | None] = mapped_column(BigInteger)
    # The account the visitor wrote to: replies leave from it.
    channel_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("channel_accounts.id", ondelete="SET NULL")
    )
    # SMS: the visitor sent STOP (or Twilio answered 21610); replies fail until START.
    opted_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The agent's part (see conversations/agent): silent while paused (handed off, or the
    # owner replied) until the owner hands it back or resolves the conversation.
    agent_paused: Mapped[bool] = mapped_column(server_default=text("false"))
    handoff_reason: Mapped[str | None] = mapped_column(String(200))
    handed_off_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    agent_replies: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # {"id", "service_id", "service", "start"} of the booking the agent made, if any.
    agent_booking: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    resolved_by: Mapped[str | None] = mapped_column(String(20))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The person (migration 0009): found by the visitor's channel identity when the
    # conversation starts; a merge moves conversations to the contact that is kept.
    contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id"))
    # Web chat: the client address the gateway saw when the chat started (migration 0012),
    # for the anonymous bookings-per-address limit; NULL on other channels.
    client_address: Mapped[str | None] = mapped_column(String(64))


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # One provider message is stored once, whatever the retries; NULLs (owner replies,
        # web chat) are distinct.
        UniqueConstraint("channel", "external_id"),
        CheckConstraint(CHANNEL_CHECK, name="channel"),
        CheckConstraint("role IN ('visitor', 'agent', 'owner')", name="role"),
        Index("ix_messages_conversation_order", "conversation_id", "sent_at", "id"),
        Index("ix_messages_workspace_sent", "workspace_id", "sent_at"),
        Index("ix_messages_conversation_live", "conversation_id", "live_seq"),
        Index("ix_messages_workspace_live", "workspace_id", "live_seq"),
        CheckConstraint(
            "delivery_status IN ('pending', 'sending', 'sent', 'delivered', 'read', 'failed', "
            "'unknown')",
            name="delivery_status",
        ),
        # The sweep that ends replies stuck in `sending` (a consumer died mid-call).
        Index(
            "ix_messages_sending",
            "delivery_updated_at",
            postgresql_where=text("delivery_status = 'sending'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        PGUUID(as_uuid=True), primary_key=True, default=uuid.uuid4
    )
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True))
    role: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(255))
    # Provider time: messages of a conversation are ordered by it, then by id.
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, server_default=text("'{}'::jsonb")
    )
    # Outbound messages only: pending, sending, sent < delivered < read, failed or unknown.
    delivery_status: Mapped[str | None] = mapped_column(String(20))
    delivery_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Workspace change number of the last live change (insert, delivery status), stamped at
    # commit by a trigger (migration 0004); NULL until that commit.
    live_seq: Mapped[int | None] = mapped_column(BigInteger)
    # Why it failed or is unknown, e.g. "whatsapp 131047: Re-engagement message".
    delivery_error: Mapped[str | None] = mapped_column(Text)


class EarlyReceipt(Base):
    """A status webhook that arrived before the send it describes was recorded (providers
    can call back before our commit); applied when the provider's id is stored."""

    __tablename__ = "early_receipts"
    __table_args__ = (Index("ix_early_receipts_channel_external_id", "channel", "external_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class UnroutedMessage(Base):
    """An accepted inbound item no workspace claims: kept for operators, never retried."""

    __tablename__ = "unrouted_messages"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    account_id: Mapped[str | None] = mapped_column(String(200))
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(PGUUID(as_uuid=True))
    external_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class WorkspaceService(Base):
    """Projection of `workspace_service.*`: what the agent may offer. A deleted one stays as a
    tombstone so a late update cannot bring it back."""

    __tablename__ = "workspace_services"
    __table_args__ = (Index("ix_workspace_services_workspace_id", "workspace_id"),)

    id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True), primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    # What the service costs (migration 0006); both null when the owner set no price.
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    deleted: Mapped[bool] = mapped_column(server_default=text("false"))
    source_updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConnectorState(Base):
    """Projection of `connector.activated|deactivated`, one row per connector (the two events
    of one switch travel on different queues, so each connector keeps its own newest state)."""

    __tablename__ = "connector_states"
    __table_args__ = (Index("ix_connector_states_workspace_id", "workspace_id"),)

    connector_id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True), primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True))
    provider: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool]
    source_updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AgentSettings(Base):
    """The owner's settings for the agent; a workspace without a row uses the defaults."""

    __tablename__ = "agent_settings"
    __table_args__ = (
        CheckConstraint("minutes_per_reply >= 0 AND minutes_per_reply <= 120", name="minutes"),
        CheckConstraint(
            "required_contact IN ('name', 'name_and_phone_or_email', 'name_and_phone', "
            "'name_and_email')",
            name="required_contact",
        ),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True), primary_key=True)
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    greeting: Mapped[str | None] = mapped_column(String(500))
    minutes_per_reply: Mapped[int] = mapped_column(Integer, server_default=text("2"))
    # NULL: every channel.
    channels: Mapped[list[str] | None] = mapped_column(ARRAY(String(20)))
    # What the agent needs from a visitor before it books (name; phone or e-mail; both).
    required_contact: Mapped[str] = mapped_column(
        String(30), server_default="name_and_phone_or_email"
    )
    # Web chat: book only for a visitor who proved an e-mail with a one-time code.
    require_verified_contact_on_webchat: Mapped[bool] = mapped_column(server_default=text("false"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AgentConversation(Base):
    """The agent's memory of one conversation: model history (pydantic-ai messages as JSON),
    what it proposed and booked, which visitor messages it answered, and the turn lease that
    keeps one turn at a time across replicas."""

    __tablename__ = "agent_conversations"

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    history: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    memory: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    answered_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(PGUUID(as_uuid=True)), server_default=text("'{}'")
    )
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class VisitorTyping(Base):
    """A web chat visitor's latest typing signal: the agent holds its answer while these keep
    coming. One small row per conversation, so a signal every few seconds rewrites nothing
    else (and takes no lock the turn needs)."""

    __tablename__ = "visitor_typing"

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    typed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Contact(Base):
    """The person behind conversations, one per workspace (conversations/domain/contacts.py).

    A phone is E.164 and an e-mail normalised; `*_verified_at` says when the channel or a code
    proved it (NULL: a claim). Contacts are found by their identities, never by a claimed
    phone or e-mail.
    """

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_workspace_updated", "workspace_id", text("updated_at DESC"), "id"),
        Index("ix_contacts_workspace_phone", "workspace_id", "phone"),
        Index("ix_contacts_workspace_email", "workspace_id", "email"),
        CheckConstraint("phone_verified_at IS NULL OR phone IS NOT NULL", name="phone_verified"),
        CheckConstraint("email_verified_at IS NULL OR email IS NOT NULL", name="email_verified"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        PGUUID(as_uuid=True), primary_key=True, default=uuid.uuid4
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    phone_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def phone_verified(self) -> bool:
        return self.phone_verified_at is not None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class ContactIdentity(Base):
    """How a contact is recognised on a channel: a WhatsApp or SMS number, a Messenger PSID,
    an Instagram id, a web chat visitor id, an integrator's caller id. One contact per
    identity in a workspace, so two first messages at once find the same contact."""

    __tablename__ = "contact_identities"
    __table_args__ = (
        CheckConstraint(CHANNEL_CHECK, name="channel"),
        Index("ix_contact_identities_contact_id", "contact_id"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IdentityCode(Base):
    """A one-time code that proves a typed e-mail (usecases/identity.py). Only its HMAC is
    kept. A row is written whether or not a contact holds the target (`contact_id` NULL and
    a hash no code matches), so what the visitor sees never tells the two apart."""

    __tablename__ = "identity_codes"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'sms')", name="channel"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_identity_codes_conversation_created", "conversation_id", "created_at"),
        Index("ix_identity_codes_workspace_target_created", "workspace_id", "target", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        PGUUID(as_uuid=True), primary_key=True, default=uuid.uuid4
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(10))
    target: Mapped[str] = mapped_column(String(320))
    code_hash: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebchatBookingCount(Base):
    """Bookings the agent made in web chats from one client address, per workspace and UTC
    day (WEBCHAT_BOOKINGS_PER_ADDRESS_PER_DAY)."""

    __tablename__ = "webchat_booking_counts"
    __table_args__ = (CheckConstraint("bookings >= 0", name="bookings_not_negative"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    bookings: Mapped[int] = mapped_column(Integer, server_default=text("0"))
