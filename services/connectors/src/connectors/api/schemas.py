from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
    model_validator,
)

from connectors.db.models import Booking as BookingRow
from connectors.domain.bookings import Attendance, MarksChange
from connectors.domain.config import ConnectorConfig, Provider
from connectors.domain.hours import OpeningHours
from connectors.usecases.connectors import ConnectorView
from shared.instants import Instant

Name = Field(min_length=1, max_length=120)


def _lift_provider(data: Any) -> Any:
    """Accept what a read shows, `provider` next to `config`, as well as `config.provider`."""
    if not isinstance(data, dict) or data.get("provider") is None:
        return data
    data = dict(data)
    provider = data["provider"]
    config = data.get("config")
    if isinstance(config, dict):
        if config.get("provider", provider) != provider:
            raise ValueError("provider and config.provider differ; send one of them")
        data["config"] = {**config, "provider": provider}
    elif config is None:
        data["config"] = {"provider": provider}
    return data


class ConnectorCreate(BaseModel):
    """`{name, config: {provider, ...}}`, or the read's shape `{name, provider, config}`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Name
    provider: Provider | None = Field(
        default=None, description="As a read shows it; may stand for `config.provider`"
    )
    config: ConnectorConfig

    @model_validator(mode="before")
    @classmethod
    def _provider_at_top(cls, data: Any) -> Any:
        return _lift_provider(data)


class ConnectorUpdate(BaseModel):
    """Partial: config fields not sent keep their values (secrets included)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    config: dict[str, Any] | None = None


class ConnectorRead(BaseModel):
    id: uuid.UUID
    workspace_id: uuid.UUID
    provider: Provider
    name: str
    config: dict[str, Any] = Field(description="Credentials are masked, e.g. `****abcd`")
    is_active: bool
    status: Literal["ok", "error", "unchecked"]
    last_error: str | None
    checked_at: datetime | None
    verified_at: datetime | None = Field(
        description="When the provider showed the credentials reach the configured location "
        "(Square: only then do its booking webhooks arrive here)"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: ConnectorView) -> ConnectorRead:
        c = view.connector
        return cls(
            id=c.id,
            workspace_id=c.workspace_id,
            provider=c.provider,
            name=c.name,
            config=view.config,
            is_active=c.is_active,
            status=c.status,
            last_error=c.last_error,
            checked_at=c.checked_at,
            verified_at=c.verified_at,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class EventTypeRead(BaseModel):
    id: str
    name: str
    duration_minutes: int | None = None
    description: str | None = None


class SlotRead(BaseModel):
    start: datetime
    end: datetime | None = None
    staff_id: str | None = None


class AvailabilityRead(BaseModel):
    timezone: str
    data: list[SlotRead]
    count: int


class HoursRange(BaseModel):
    start: str = Field(description="HH:MM, wall clock in the workspace's timezone")
    end: str = Field(description='HH:MM; "24:00" is the end of the day')


class WeeklyHoursRange(HoursRange):
    weekday: int = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday")


class HoursOverride(BaseModel):
    date: date
    ranges: list[HoursRange] = Field(description="Empty: closed that date")


class HoursRead(BaseModel):
    """Opening hours of the active connector. `known` is false for providers that keep
    their hours to themselves (Calendly, Square, AgendaPro): ask for free times instead."""

    provider: Provider
    known: bool
    timezone: str | None = Field(description="IANA name; null when not known")
    weekly: list[WeeklyHoursRange]
    overrides: list[HoursOverride] = Field(
        description="Dates whose hours replace their weekday's, from today on, in date order"
    )
    horizon_days: int | None = Field(description="How many days ahead bookings open")
    min_notice_minutes: int | None = Field(description="How long before a start it can be booked")

    @classmethod
    def of(cls, hours: OpeningHours) -> HoursRead:
        return cls(
            provider=hours.provider,  # type: ignore[arg-type]
            known=hours.known,
            timezone=hours.timezone,
            weekly=[
                WeeklyHoursRange(weekday=r.weekday, start=r.start, end=r.end) for r in hours.weekly
            ],
            overrides=[
                HoursOverride(date=o.date, ranges=[HoursRange(start=s, end=e) for s, e in o.ranges])
                for o in hours.overrides
            ],
            horizon_days=hours.horizon_days,
            min_notice_minutes=hours.min_notice_minutes,
        )


# Dates and times are refused outside these years: beyond them only date arithmetic
# overflows, and no booking is meant.
EARLIEST = date(1970, 1, 1)
LATEST = date(2999, 12, 31)
Day = Annotated[date, Field(ge=EARLIEST, le=LATEST)]


class AvailabilityQuery(BaseModel):
    event_type: str = Field(min_length=1, max_length=300)
    start: Day
    end: Day

    @model_validator(mode="after")
    def _range(self) -> AvailabilityQuery:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        if (self.end - self.start).days > 31:
            raise ValueError("ask for at most 31 days at a time")
        return self


def _unstorable(c: str) -> bool:
    code = ord(c)
    return (code < 32 and c not in "\n\r\t") or code == 0x7F or 0xD800 <= code <= 0xDFFF


class BookingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_type: str = Field(min_length=1, max_length=300)
    start: Instant = Field(description="A slot start from the availability answer")
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$")
    staff_id: str | None = Field(default=None, max_length=100)
    notes: str | None = Field(default=None, max_length=1000)
    idempotency_key: str | None = Field(
        default=None,
        min_length=8,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description=(
            "Repeat a request with the same key to get the same live booking back; once that "
            "booking is cancelled, the same key books again"
        ),
    )
    conversation_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = Field(
        default=None, description="The contact (conversations service) who books"
    )

    @field_validator("event_type", "name", "staff_id", "notes")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        # Stored with the booking: Postgres refuses NUL and lone surrogates, and no name
        # holds control characters (line breaks pass, for notes). Refused before any
        # provider is called, so a provider booking never outlives a failed insert here.
        if value is not None and any(_unstorable(c) for c in value):
            raise ValueError("must not contain control characters or lone surrogates")
        return value

    @field_validator("start")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        if not EARLIEST.year <= value.year <= LATEST.year:
            raise ValueError(f"start must fall within {EARLIEST.year}-{LATEST.year}")
        return value


class BookingRead(BaseModel):
    id: str
    connector_id: uuid.UUID
    provider: str
    event_type: str | None
    start: datetime
    end: datetime | None
    status: Literal["confirmed", "cancelled"] = Field(
        description="What the calendar holds: only a `confirmed` booking holds its time"
    )
    idempotency_key: str | None
    source: Literal["platform", "provider"] | None = None
    visitor_name: str | None = None
    visitor_email: str | None = None
    visitor_phone: str | None = Field(default=None, description="E.164, e.g. +56912345678")
    notes: str | None = None
    conversation_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    visitor_confirmed_at: datetime | None = None
    attendance: Attendance | None = None
    created_at: datetime | None = None

    @classmethod
    def of(cls, row: BookingRow) -> BookingRead:
        return cls(
            id=row.external_id,
            connector_id=row.connector_id,
            provider=row.provider,
            event_type=row.event_type,
            start=row.start_at,
            end=row.end_at,
            status=row.status,  # type: ignore[arg-type]  # the column's check constraint
            idempotency_key=row.idempotency_key,
            source=row.source,  # type: ignore[arg-type]  # the column's check constraint
            visitor_name=row.visitor_name,
            visitor_email=row.visitor_email,
            visitor_phone=row.visitor_phone,
            notes=row.notes,
            conversation_id=row.conversation_id,
            contact_id=row.contact_id,
            visitor_confirmed_at=row.visitor_confirmed_at,
            attendance=row.attendance,  # type: ignore[arg-type]  # the column's check constraint
            created_at=row.created_at,
        )


class BookingUpdate(BaseModel):
    """The owner's marks. Send only what changes; `attendance: null` clears the mark."""

    model_config = ConfigDict(extra="forbid")

    attendance: Attendance | None = Field(
        default=None, description="Once the booking has started: `attended` or `no_show`"
    )
    visitor_confirmed: Literal[True] | None = Field(
        default=None, description="`true`: the visitor confirmed they will come (kept once)"
    )

    def change(self) -> MarksChange:
        return MarksChange(
            set_attendance="attendance" in self.model_fields_set,
            attendance=self.attendance,
            visitor_confirmed=bool(self.visitor_confirmed),
        )


class BookingListQuery(BaseModel):
    upcoming: bool = Field(default=False, description="Only bookings that start from now on")
    day: Day | None = Field(default=None, description="A day in the workspace's timezone")
    event_type: str | None = Field(
        default=None,
        min_length=1,
        max_length=300,
        description="The event type; for the built-in calendar, the service id",
    )
    status: Literal["confirmed", "cancelled"] | None = None
    contact_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None


class WebhookAck(BaseModel):
    status: str
