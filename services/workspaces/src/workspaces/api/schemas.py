"""Request and response bodies. Field rules come from the domain, so the messages match."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    UrlConstraints,
    model_validator,
)

from workspaces.domain import facts
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


def _blank_is_null(value: Any) -> Any:
    # A cleared form field arrives as "" (or spaces): it clears the fact, as null does.
    return None if isinstance(value, str) and not value.strip() else value


def _lowercase(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _text(max_length: int) -> Any:
    return Annotated[str, StringConstraints(strip_whitespace=True, max_length=max_length)]


# Optional facts: null or "" means "not given" on create and "clear it" on update.
Address = Annotated[
    _text(facts.ADDRESS_MAX_LENGTH) | None,
    BeforeValidator(_blank_is_null),
    Field(description="Where the business is, as visitors should read it"),
]
MapUrl = Annotated[
    Annotated[
        HttpUrl, UrlConstraints(max_length=facts.MAP_URL_MAX_LENGTH, allowed_schemes=["https"])
    ]
    | None,
    BeforeValidator(_blank_is_null),
    Field(
        description="A https link to a map of the address", examples=["https://maps.app.goo.gl/x"]
    ),
]
Phone = Annotated[
    Annotated[str, StringConstraints(max_length=40), AfterValidator(facts.e164_phone)] | None,
    BeforeValidator(_blank_is_null),
    Field(
        description="International form with + and the country code; stored in E.164",
        examples=["+34 912 345 678"],
    ),
]
Email = Annotated[
    Annotated[
        str,
        StringConstraints(max_length=facts.EMAIL_MAX_LENGTH),
        AfterValidator(facts.checked_email),
    ]
    | None,
    BeforeValidator(_blank_is_null),
    Field(description="The business's contact e-mail", examples=["hello@example.com"]),
]
PaymentMethods = Annotated[
    list[Annotated[str, StringConstraints(max_length=1000)]],
    Field(
        max_length=100,
        description=(
            f"At most {facts.PAYMENT_METHODS_MAX}, each up to {facts.PAYMENT_METHOD_MAX_LENGTH} "
            "characters; repeats are dropped"
        ),
        examples=[["Cash", "Visa", "Bizum"]],
    ),
    AfterValidator(facts.payment_methods),
]
PolicyText = Annotated[_text(facts.POLICY_MAX_LENGTH) | None, BeforeValidator(_blank_is_null)]
FaqLanguage = Annotated[
    Literal["en", "es", "pt", "fr", "de", "it"] | None,
    BeforeValidator(_lowercase),
    BeforeValidator(_blank_is_null),
]


class Policies(BaseModel):
    """Short texts the agent quotes as they are; null where the business has none."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    cancellation: PolicyText = None
    lateness: PolicyText = None
    deposit: PolicyText = None


class FaqEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    question: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=facts.QUESTION_MAX_LENGTH
        ),
    ]
    answer: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=facts.ANSWER_MAX_LENGTH),
    ]
    language: FaqLanguage = Field(
        default=None, description="The language of this entry; null for any"
    )


Faq = Annotated[
    list[FaqEntry],
    Field(max_length=facts.FAQ_MAX, description="Frequent questions, in display order"),
]

FACT_FIELDS = ("address", "map_url", "phone", "email", "payment_methods", "policies", "faq")


class _Facts(BaseModel):
    """What visitors ask about besides services and times; all optional."""

    address: Address = None
    map_url: MapUrl = None
    phone: Phone = None
    email: Email = None
    payment_methods: PaymentMethods | None = None
    policies: Policies | None = None
    faq: Faq | None = None


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


class WorkspaceCreate(_Facts):
    model_config = ConfigDict(extra="forbid")

    handle: Handle
    name: WorkspaceName
    tone: Tone = Tone.FRIENDLY
    timezone: Timezone


class PoliciesUpdate(Policies):
    """Policies not named keep their text; a named one set to null is cleared."""


class WorkspaceUpdate(_Patch):
    """Null clears a fact: `payment_methods` and `faq` become empty lists, `policies` all
    three texts. `policies` merges: the policies it does not name stay as they are."""

    NOT_NULL = frozenset({"handle", "name", "tone", "timezone"})

    handle: Handle | None = None
    name: WorkspaceName | None = None
    tone: Tone | None = None
    timezone: Timezone | None = None
    address: Address = None
    map_url: MapUrl = None
    phone: Phone = None
    email: Email = None
    payment_methods: PaymentMethods | None = None
    policies: PoliciesUpdate | None = None
    faq: Faq | None = None


class FactsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    address: str | None
    map_url: str | None
    phone: str | None = Field(description="E.164", examples=["+34912345678"])
    email: str | None
    payment_methods: list[str]
    policies: Policies
    faq: list[FaqEntry]


class WorkspaceRead(FactsRead):
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


class PublicWorkspaceRead(FactsRead):
    """What a visitor page needs. No owner data, on purpose."""

    handle: str
    name: str
    tone: Tone
    timezone: str
    services: list[PublicServiceRead]
