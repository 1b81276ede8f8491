"""Tables of the `workspaces` schema. Only this service reads or writes them."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import inbox_table, make_metadata, outbox_table
from workspaces.domain import facts
from workspaces.domain.handles import HANDLE_MAX_LENGTH, HANDLE_MIN_LENGTH, HANDLE_PATTERN
from workspaces.domain.settings import Tone

SCHEMA = "workspaces"

# Constraint names the use cases translate into domain errors (see the naming convention).
UQ_WORKSPACE_OWNER = "uq_workspaces_owner_id"
UQ_WORKSPACE_HANDLE = "uq_workspaces_handle"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)


outbox = outbox_table(Base.metadata)
inbox = inbox_table(Base.metadata)

TONES_SQL = ", ".join(f"'{t.value}'" for t in Tone)


class Workspace(Base):
    __tablename__ = "workspaces"
    __table_args__ = (
        UniqueConstraint("owner_id"),
        UniqueConstraint("handle"),
        CheckConstraint(
            f"handle ~ '{HANDLE_PATTERN}' AND char_length(handle) "
            f"BETWEEN {HANDLE_MIN_LENGTH} AND {HANDLE_MAX_LENGTH}",
            name="handle_format",
        ),
        CheckConstraint(f"tone IN ({TONES_SQL})", name="tone_known"),
        CheckConstraint("char_length(btrim(name)) > 0", name="name_not_blank"),
        CheckConstraint(r"phone ~ '^\+[1-9][0-9]{5,14}$'", name="phone_e164"),
        CheckConstraint("map_url LIKE 'https://%'", name="map_url_https"),
        CheckConstraint(
            f"cardinality(payment_methods) <= {facts.PAYMENT_METHODS_MAX}",
            name="payment_methods_count",
        ),
        CheckConstraint(
            f"jsonb_typeof(faq) = 'array' AND jsonb_array_length(faq) <= {facts.FAQ_MAX}",
            name="faq_list",
        ),
    )
    # Server-side updated_at comes back through RETURNING instead of a lazy load.
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    handle: Mapped[str] = mapped_column(String(HANDLE_MAX_LENGTH))
    name: Mapped[str] = mapped_column(String(100))
    tone: Mapped[str] = mapped_column(String(20))
    timezone: Mapped[str] = mapped_column(String(64))
    # Business facts (migration 0003): what visitors ask besides services and free times.
    address: Mapped[str | None] = mapped_column(String(facts.ADDRESS_MAX_LENGTH))
    map_url: Mapped[str | None] = mapped_column(String(facts.MAP_URL_MAX_LENGTH))
    phone: Mapped[str | None] = mapped_column(String(facts.PHONE_MAX_LENGTH))
    email: Mapped[str | None] = mapped_column(String(facts.EMAIL_MAX_LENGTH))
    payment_methods: Mapped[list[str]] = mapped_column(
        ARRAY(String(facts.PAYMENT_METHOD_MAX_LENGTH)), server_default=text("'{}'"), default=list
    )
    policy_cancellation: Mapped[str | None] = mapped_column(String(facts.POLICY_MAX_LENGTH))
    policy_lateness: Mapped[str | None] = mapped_column(String(facts.POLICY_MAX_LENGTH))
    policy_deposit: Mapped[str | None] = mapped_column(String(facts.POLICY_MAX_LENGTH))
    faq: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb"), default=list
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    @property
    def policies(self) -> dict[str, str | None]:
        return {name: getattr(self, f"policy_{name}") for name in facts.POLICIES}


class WorkspaceService(Base):
    """Something a workspace sells: a consultation, a haircut, a class."""

    __tablename__ = "workspace_services"
    __table_args__ = (
        # Deferred, so a reorder can swap positions inside one transaction. Its index also
        # serves the per-workspace list in position order.
        UniqueConstraint("workspace_id", "position", deferrable=True, initially="DEFERRED"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("price IS NULL OR price >= 0", name="price_not_negative"),
        CheckConstraint("(price IS NULL) = (currency IS NULL)", name="currency_with_price"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_format"),
        CheckConstraint("position >= 0", name="position_not_negative"),
        CheckConstraint("char_length(btrim(name)) > 0", name="name_not_blank"),
    )
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    duration_minutes: Mapped[int]
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    is_active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
