"""Request and response bodies. Field rules come from the domain, so the messages match."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from workspaces.domain.currencies import currency_problem
from workspaces.domain.errors import InvalidPrice
from workspaces.domain.handles import (
    HANDLE_MAX_LENGTH,
    HANDLE_MIN_LENGTH,
    HANDLE_PATTERN,
    handle_problem,
)
from workspaces.domain.services import MAX_DURATION_MINUTES, check_price
from workspaces.domain.settings import Tone, timezone_problem


def _rule(problem: Any) -> AfterValidator:
    def validate(value: str) -> str:
        if (reason := problem(value)) is not None:
            raise ValueError(reason)
        return value

    return AfterValidator(validate)


def _cents(value: Decimal | None) -> Decimal | None:
    # One representation everywhere (API, events, database): two decimal places.
    return None if value is None else value.quantize(Decimal("0.01"))


Handle = Annotated[
    str,
    _rule(handle_problem),
    Field(
        description=(
            f"{HANDLE_MIN_LENGTH}-{HANDLE_MAX_LENGTH} lowercase letters a-z, digits and single "
            "hyphens between them"
        ),
        json_schema_extra={"pattern": HANDLE_PATTERN},
        examples=["acme-consulting"],
    ),
]
Timezone = Annotated[
    str,
    _rule(timezone_problem),
    Field(description="IANA timezone name", examples=["America/New_York"]),
]
WorkspaceName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]
ServiceName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Duration = Annotated[int, Field(gt=0, le=MAX_DURATION_MINUTES, description="Minutes, above 0")]
Price = Annotated[
    Decimal,
    Field(ge=0, max_digits=12, decimal_places=2, description="Decimal, at most 2 places"),
    AfterValidator(_cents),
]
Currency = Annotated[
    str,
    _rule(currency_problem),
    Field(description="ISO 4217 code, required when a price is set", examples=["USD"]),
]


class _Patch(BaseModel):
    """A partial update: absent fields stay as they are; null only where a field allows it."""

    model_config = ConfigDict(extra="forbid")
    NOT_NULL: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required_fields(self) -> Self:
        nulls = sorted(f for f in self.model_fields_set & self.NOT_NULL if getattr(self, f) is None)
        if nulls:
            raise ValueError(f"These fields cannot be null: {', '.join(nulls)}")
        return self


# -- workspaces ------------------------------------------------------------------------------


class WorkspaceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handle: Handle
    name: WorkspaceName
    tone: Tone = Tone.FRIENDLY
    timezone: Timezone


class WorkspaceUpdate(_Patch):
    NOT_NULL = frozenset({"handle", "name", "tone", "timezone"})

    handle: Handle | None = None
    name: WorkspaceName | None = None
    tone: Tone | None = None
    timezone: Timezone | None = None


class WorkspaceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    owner_id: UUID
    handle: str
    name: str
    tone: Tone
    timezone: str
    created_at: datetime
    updated_at: datetime


class HandleAvailabilityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    handle: str
    available: bool
    reason: str | None = Field(description="Why the handle cannot be used; null if it can")


# -- workspace services ----------------------------------------------------------------------


class WorkspaceServiceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ServiceName
    description: Description | None = None
    duration_minutes: Duration
    price: Price | None = None
    currency: Currency | None = None
    is_active: bool = True

    @model_validator(mode="after")
    def _currency_goes_with_price(self) -> Self:
        try:
            check_price(self.price, self.currency)
        except InvalidPrice as exc:
            raise ValueError(str(exc)) from exc
        return self


class WorkspaceServiceUpdate(_Patch):
    """Setting `price` to null also clears `currency`."""

    NOT_NULL = frozenset({"name", "duration_minutes", "is_active"})

    name: ServiceName | None = None
    description: Description | None = None
    duration_minutes: Duration | None = None
    price: Price | None = None
    currency: Currency | None = None
    is_active: bool | None = None


class WorkspaceServiceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    workspace_id: UUID
    name: str
    description: str | None
    duration_minutes: int
    price: Decimal | None
    currency: str | None
    is_active: bool
    position: int
    created_at: datetime
    updated_at: datetime


class WorkspaceServiceReorder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[UUID] = Field(
        max_length=1000, description="Every one of your services, in the new display order"
    )


# -- public ----------------------------------------------------------------------------------


class PublicServiceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    description: str | None
    duration_minutes: int
    price: Decimal | None
    currency: str | None


class PublicWorkspaceRead(BaseModel):
    """What a visitor page needs. No owner data, on purpose."""

    model_config = ConfigDict(from_attributes=True)

    handle: str
    name: str
    tone: Tone
    timezone: str
    services: list[PublicServiceRead]
