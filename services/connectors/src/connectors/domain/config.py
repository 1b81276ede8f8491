"""Typed connector configuration, one model per provider, told apart by `provider`.

Secrets are `SecretStr`, so they never show in reprs or logs; `masked()` gives what API
answers may show. Nothing here can choose a network address: base URLs are settings.
"""

from __future__ import annotations

import itertools
from datetime import date, time
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    field_validator,
)

from shared.secrets import SecretModel

Provider = Literal["calendly", "square", "agendapro", "builtin"]
PROVIDERS: tuple[Provider, ...] = ("calendly", "square", "agendapro", "builtin")

_Token = Annotated[SecretStr, Field(min_length=8, max_length=4096)]


_Config = SecretModel


class CalendlyConfig(_Config):
    provider: Literal["calendly"]
    access_token: _Token = Field(description="Personal access token or OAuth access token")
    refresh_token: _Token | None = None
    # Event type URIs (or their UUIDs) to offer; empty offers every active event type.
    event_types: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(
        default_factory=list, max_length=50
    )


class SquareConfig(_Config):
    provider: Literal["square"]
    access_token: _Token
    location_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    environment: Literal["sandbox", "production"] = "production"
    team_member_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=50
    )


class AgendaProConfig(_Config):
    provider: Literal["agendapro"]
    api_key: _Token
    location_id: int = Field(gt=0)
    service_provider_id: int | None = Field(default=None, gt=0)


# -- the built-in calendar: rules only, no secrets ------------------------------------------

# "HH:MM" wall-clock time; "24:00" closes a range at the end of the day.
Clock = Annotated[str, Field(pattern=r"^(?:(?:[01]\d|2[0-3]):[0-5]\d|24:00)$")]
Hours = Annotated[list[tuple[Clock, Clock]], Field(max_length=12)]
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def clock_minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def clock_time(value: str) -> time | None:
    """A range bound as a time of day; None for "24:00" (the next midnight)."""
    return None if value == "24:00" else time.fromisoformat(value)


def _check_ranges(ranges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    ordered = sorted(ranges, key=lambda r: clock_minutes(r[0]))
    for start, end in ordered:
        if clock_minutes(end) <= clock_minutes(start):
            raise ValueError(f"the range {start}-{end} ends before it starts")
    for (s1, e1), (s2, e2) in itertools.pairwise(ordered):
        if clock_minutes(s2) < clock_minutes(e1):
            raise ValueError(f"the ranges {s1}-{e1} and {s2}-{e2} overlap")
    return ordered


class WeeklyHours(BaseModel):
    """Opening hours per weekday; a day left out (or empty) is closed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mon: Hours = Field(default_factory=list)
    tue: Hours = Field(default_factory=list)
    wed: Hours = Field(default_factory=list)
    thu: Hours = Field(default_factory=list)
    fri: Hours = Field(default_factory=list)
    sat: Hours = Field(default_factory=list)
    sun: Hours = Field(default_factory=list)

    @field_validator("*")
    @classmethod
    def _ranges(cls, value: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return _check_ranges(value)

    def of(self, day: date) -> list[tuple[str, str]]:
        hours: list[tuple[str, str]] = getattr(self, DAYS[day.weekday()])
        return hours


def _office_hours() -> WeeklyHours:
    day = [("09:00", "17:00")]
    return WeeklyHours(mon=day, tue=day, wed=day, thu=day, fri=day)


class DateOverride(BaseModel):
    """A date whose hours replace its weekday's; empty hours close the day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: date
    hours: Hours = Field(default_factory=list)

    @field_validator("hours")
    @classmethod
    def _ranges(cls, value: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return _check_ranges(value)


class BuiltinConfig(_Config):
    """The workspace's own calendar. Hours are wall-clock times in the workspace timezone."""

    provider: Literal["builtin"]
    weekly_hours: WeeklyHours = Field(default_factory=_office_hours)
    date_overrides: list[DateOverride] = Field(default_factory=list, max_length=400)
    buffer_before_minutes: int = Field(default=0, ge=0, le=240)
    buffer_after_minutes: int = Field(default=0, ge=0, le=240)
    min_notice_minutes: int = Field(default=60, ge=0, le=60 * 24 * 30)
    max_days_ahead: int = Field(default=60, ge=1, le=365)
    slot_step_minutes: int = Field(default=15, ge=5, le=240)

    @field_validator("date_overrides")
    @classmethod
    def _one_override_per_date(cls, value: list[DateOverride]) -> list[DateOverride]:
        seen: set[date] = set()
        for override in value:
            if override.date in seen:
                raise ValueError(f"{override.date.isoformat()} is overridden twice")
            seen.add(override.date)
        return value

    def hours_on(self, day: date) -> list[tuple[str, str]]:
        for override in self.date_overrides:
            if override.date == day:
                return override.hours
        return self.weekly_hours.of(day)


ConnectorConfig = Annotated[
    CalendlyConfig | SquareConfig | AgendaProConfig | BuiltinConfig,
    Field(discriminator="provider"),
]
AnyConfig = CalendlyConfig | SquareConfig | AgendaProConfig | BuiltinConfig
CONFIG_ADAPTER: TypeAdapter[AnyConfig] = TypeAdapter(ConnectorConfig)


def parse_config(data: dict[str, Any]) -> AnyConfig:
    return CONFIG_ADAPTER.validate_python(data)


def merge_config(current: AnyConfig, changes: dict[str, Any]) -> AnyConfig:
    """A partial update: fields not sent keep their (secret) values, and so does a secret
    sent back in the masked form a read showed (a frontend may send back what it read)."""
    if changes.get("provider", current.provider) != current.provider:
        raise ValueError("provider cannot change; create a new connector instead")
    return parse_config(current.merged(changes) | {"provider": current.provider})
