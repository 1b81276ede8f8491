"""Opening hours as visitors and the agent read them: the built-in calendar's weekly ranges
and its upcoming date overrides, wall-clock in the workspace's timezone.

Other providers keep their hours to themselves (only free times come back from them), so
for them the answer is "not known": ask for the free times instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from connectors.domain.config import DAYS, AnyConfig, BuiltinConfig

# Overrides are shown this many days ahead at least (further when the booking horizon is).
OVERRIDES_AHEAD_DAYS = 90

Range = tuple[str, str]  # ("09:00", "13:00"); "24:00" closes at the end of the day


@dataclass(frozen=True, slots=True)
class WeeklyRange:
    weekday: int  # 0 = Monday
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class DayOverride:
    date: date
    ranges: tuple[Range, ...]  # () = closed that date


@dataclass(frozen=True, slots=True)
class OpeningHours:
    provider: str
    known: bool
    timezone: str | None = None
    weekly: tuple[WeeklyRange, ...] = ()
    overrides: tuple[DayOverride, ...] = ()
    horizon_days: int | None = None
    min_notice_minutes: int | None = None


def opening_hours(config: AnyConfig, timezone: str, today: date) -> OpeningHours:
    """`today` is the workspace's local date: overrides before it are history."""
    if not isinstance(config, BuiltinConfig):
        return OpeningHours(provider=config.provider, known=False)
    weekly = tuple(
        WeeklyRange(weekday, start, end)
        for weekday, day in enumerate(DAYS)
        for start, end in getattr(config.weekly_hours, day)
    )
    last = today + timedelta(days=max(OVERRIDES_AHEAD_DAYS, config.max_days_ahead))
    overrides = tuple(
        DayOverride(o.date, tuple((start, end) for start, end in o.hours))
        for o in sorted(config.date_overrides, key=lambda o: o.date)
        if today <= o.date <= last
    )
    return OpeningHours(
        provider=config.provider,
        known=True,
        timezone=timezone,
        weekly=weekly,
        overrides=overrides,
        horizon_days=config.max_days_ahead,
        min_notice_minutes=config.min_notice_minutes,
    )
