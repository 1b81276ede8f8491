"""Tables of the `connectors` schema. Only this service reads or writes them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID, ExcludeConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import inbox_table, make_metadata, outbox_table

SCHEMA = "connectors"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)


outbox = outbox_table(Base.metadata)
inbox = inbox_table(Base.metadata)


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Workspace(Base):
    """Local projection of the workspaces service, fed by `workspace.*` events.

    A deleted workspace stays as a tombstone (`deleted_at`), so a late `created` or
    `updated` delivered after the `deleted` cannot bring it back.
    """

    __tablename__ = "workspaces"

    workspace_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    handle: Mapped[str] = mapped_column(String(100), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    # occurred_at of the newest event applied; older deliveries are ignored.
    source_version: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = _now()

    __table_args__ = (
        # Not unique: workspace events travel on separate queues, so a new workspace of an
        # owner may arrive before the deletion of the old one. The producer owns that rule.
        Index("ix_workspaces_owner_live", "owner_id", postgresql_where=text("deleted_at IS NULL")),
    )


class Connector(Base):
    __tablename__ = "connectors"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(Workspace.workspace_id), nullable=False
    )
    provider: Mapped[str] = mapped_column(String(20), nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    # The whole typed config as Fernet ciphertext; never stored or logged in clear.
    config_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="unchecked")
    last_error: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Non-secret provider references, used to route webhooks to this connector.
    account_ref: Mapped[str | None] = mapped_column(String(300))
    organization_ref: Mapped[str | None] = mapped_column(String(300))
    location_ref: Mapped[str | None] = mapped_column(String(100))
    # When the provider showed these credentials can see `location_ref` (Square); only then
    # are that location's webhooks routed here. Cleared whenever the config changes.
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()

    __table_args__ = (
        CheckConstraint(
            "provider IN ('calendly', 'square', 'agendapro', 'builtin')", name="provider"
        ),
        CheckConstraint("status IN ('ok', 'error', 'unchecked')", name="status"),
        # The invariant itself: at most one active connector per workspace.
        Index(
            "ix_connectors_one_active_per_workspace",
            "workspace_id",
            unique=True,
            postgresql_where=text("is_active"),
        ),
        Index("ix_connectors_workspace_id", "workspace_id"),
        Index("ix_connectors_provider_account", "provider", "account_ref"),
        Index("ix_connectors_provider_organization", "provider", "organization_ref"),
        Index("ix_connectors_provider_location", "provider", "location_ref"),
    )


class WorkspaceService(Base):
    """Local projection of a workspace's catalogue, fed by `workspace_service.*` events:
    the built-in calendar's event types. A deleted service stays as a tombstone, so a late
    `updated` cannot bring it back."""

    __tablename__ = "workspace_services"

    service_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    duration_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    source_version: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = _now()

    __table_args__ = (Index("ix_workspace_services_workspace_id", "workspace_id"),)


class Booking(Base):
    """Bookings seen through a connector: made by the platform, reported by a webhook, or
    kept here outright by the built-in calendar (provider `builtin`, where this row is the
    booking itself and `held_from`/`held_until` is the time it holds, buffers included)."""

    __tablename__ = "bookings"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    connector_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(Connector.id, ondelete="CASCADE"), nullable=False
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    provider: Mapped[str] = mapped_column(String(20), nullable=False)
    external_id: Mapped[str] = mapped_column(String(300), nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    event_type: Mapped[str | None] = mapped_column(String(300))
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    end_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    held_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    held_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    visitor_name: Mapped[str | None] = mapped_column(String(200))
    visitor_email: Mapped[str | None] = mapped_column(String(320))
    visitor_phone: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[str | None] = mapped_column(Text)
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The conversations service's contact who booked; no foreign key across services.
    contact_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The owner's marks: the visitor said they will come; they came or did not.
    visitor_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attendance: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()

    __table_args__ = (
        UniqueConstraint("connector_id", "external_id"),
        # Two confirmed built-in bookings of one workspace can never hold the same time,
        # whatever the code above does.
        ExcludeConstraint(
            ("workspace_id", "="),
            (text("tstzrange(held_from, held_until, '[)')"), "&&"),
            name="ex_bookings_builtin_no_overlap",
            using="gist",
            where=text("status = 'confirmed' AND provider = 'builtin'"),
        ),
        CheckConstraint(
            "provider <> 'builtin' OR (end_at IS NOT NULL AND held_from IS NOT NULL "
            "AND held_until IS NOT NULL AND held_from <= start_at AND held_until >= end_at "
            "AND start_at < end_at)",
            name="builtin_times",
        ),
        Index("ix_bookings_workspace_start", "workspace_id", "start_at"),
        Index("ix_bookings_workspace_contact", "workspace_id", "contact_id"),
        Index("ix_bookings_workspace_conversation", "workspace_id", "conversation_id"),
        # A key names the live booking made with it: once that booking is cancelled, the
        # same key books again rather than answering with a booking that holds nothing.
        Index(
            "ix_bookings_connector_idempotency_key",
            "connector_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL AND status = 'confirmed'"),
        ),
        CheckConstraint("status IN ('confirmed', 'cancelled')", name="status"),
        CheckConstraint("source IN ('platform', 'provider')", name="source"),
        CheckConstraint("attendance IN ('attended', 'no_show')", name="attendance"),
    )


class WebhookReceipt(Base):
    """One row per provider delivery: de-duplicates retries and records unrouted ones."""

    __tablename__ = "webhook_receipts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(20), nullable=False)
    delivery_key: Mapped[str] = mapped_column(String(400), nullable=False)
    event_type: Mapped[str] = mapped_column(String(100), nullable=False)
    outcome: Mapped[str] = mapped_column(String(20), nullable=False)
    connector_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    received_at: Mapped[datetime] = _now()

    __table_args__ = (UniqueConstraint("provider", "delivery_key"),)
