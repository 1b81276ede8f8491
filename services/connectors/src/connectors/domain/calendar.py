"""Free slots of the built-in calendar: pure rules over a config, a clock and busy times.

Time is handled as instants (UTC) everywhere except where the owner speaks wall-clock: the
day's hours. Each range is turned into two instants in the workspace's zone and the grid is
walked in real minutes from the range's start, so on a daylight-saving change no start
appears twice (the repeated hour gives distinct instants) and none is invented (a skipped
hour simply has no instants).

A booking holds `[start - buffer_before, end + buffer_after)`; that held range is what is
stored and what the database's exclusion constraint compares, and a candidate slot is free
when its own held range overlaps no stored one. Code and constraint agree by construction.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from connectors.domain.config import BuiltinConfig, clock_time


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime  # aware
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class Candidate:
    start: datetime  # aware, UTC
    end: datetime
    held: Interval  # widened by the buffers


class SlotNotOffered(ValueError):
    """The start is not one the calendar offers (hours, grid, notice, horizon)."""


def _instant(day: date, clock: time | None, zone: ZoneInfo, *, closing: bool) -> datetime:
    if clock is None:  # "24:00": the next local midnight
        day, clock = day + timedelta(days=1), time(0)
    local = datetime.combine(day, clock, tzinfo=zone)
    later = local.replace(fold=1)
    # An ambiguous wall time (the repeated hour: fold 0 has the larger offset) opens at its
    # first occurrence and closes at its second, so a range never loses the repeated hour.
    # A skipped wall time keeps fold 0, which lands past the gap, where the clock really is.
    ambiguous = (local.utcoffset() or timedelta()) > (later.utcoffset() or timedelta())
    if closing and ambiguous:
        local = later
    return local.astimezone(UTC)


def day_ranges(config: BuiltinConfig, day: date, zone: ZoneInfo) -> list[Interval]:
    """The day's opening hours (its override if any) as instants."""
    out = []
    for start, end in config.hours_on(day):
        opens = _instant(day, clock_time(start), zone, closing=False)
        closes = _instant(day, clock_time(end), zone, closing=True)
        if closes > opens:
            out.append(Interval(opens, closes))
    return out


def _buffers(config: BuiltinConfig) -> tuple[timedelta, timedelta]:
    return (
        timedelta(minutes=config.buffer_before_minutes),
        timedelta(minutes=config.buffer_after_minutes),
    )


def held(config: BuiltinConfig, start: datetime, end: datetime) -> Interval:
    before, after = _buffers(config)
    return Interval(start - before, end + after)


def _grid(
    config: BuiltinConfig, day: date, zone: ZoneInfo, duration: timedelta
) -> Iterator[Candidate]:
    step = timedelta(minutes=config.slot_step_minutes)
    before, after = _buffers(config)  # once per day: this loop runs for every start
    for hours in day_ranges(config, day, zone):
        start = hours.start
        while start + duration <= hours.end:
            end = start + duration
            yield Candidate(start, end, Interval(start - before, end + after))
            start += step


def _bookable(config: BuiltinConfig, zone: ZoneInfo, now: datetime) -> tuple[datetime, date]:
    """The earliest allowed start and the last allowed local day."""
    earliest = now + timedelta(minutes=config.min_notice_minutes)
    last_day = now.astimezone(zone).date() + timedelta(days=config.max_days_ahead)
    return earliest, last_day


class Busy:
    """Held ranges of confirmed bookings; they never overlap (the database sees to it), so
    sorted by start they are sorted by end as well and one bisect finds a conflict."""

    def __init__(self, held_ranges: Sequence[Interval]) -> None:
        ordered = sorted(held_ranges, key=lambda i: i.start)
        self._starts = [i.start for i in ordered]
        self._ends = [i.end for i in ordered]

    def conflicts(self, interval: Interval) -> bool:
        i = bisect.bisect_right(self._ends, interval.start)
        # Every range before i ends at or before the interval starts; range i is the first
        # that could overlap, and if it starts after the interval ends, later ones do too.
        while i < len(self._starts) and self._starts[i] < interval.end:
            if self._ends[i] > interval.start:
                return True
            i += 1
        return False


def free_slots(
    config: BuiltinConfig,
    *,
    zone: ZoneInfo,
    duration_minutes: int,
    first_day: date,
    last_day: date,
    busy: Sequence[Interval],
    now: datetime,
) -> list[Candidate]:
    """Every offered start from `first_day` to `last_day` (local days, inclusive)."""
    duration = timedelta(minutes=duration_minutes)
    earliest, horizon = _bookable(config, zone, now)
    taken = Busy(busy)
    out: list[Candidate] = []
    day = first_day
    while day <= min(last_day, horizon):
        for candidate in _grid(config, day, zone, duration):
            if candidate.start >= earliest and not taken.conflicts(candidate.held):
                out.append(candidate)
        day += timedelta(days=1)
    return out


def offered(
    config: BuiltinConfig,
    *,
    zone: ZoneInfo,
    duration_minutes: int,
    start: datetime,
    now: datetime,
) -> Candidate:
    """The slot starting at `start` if the rules offer it (busy times aside), else why not."""
    earliest, horizon = _bookable(config, zone, now)
    day = start.astimezone(zone).date()
    if start < earliest:
        raise SlotNotOffered(
            f"bookings need {config.min_notice_minutes} minutes' notice; choose a later start"
        )
    if day > horizon:
        raise SlotNotOffered(f"bookings open at most {config.max_days_ahead} days ahead")
    duration = timedelta(minutes=duration_minutes)
    for candidate in _grid(config, day, zone, duration):
        if candidate.start == start:
            return candidate
    if not any(
        r.start <= start and start + duration <= r.end for r in day_ranges(config, day, zone)
    ):
        raise SlotNotOffered("the start is outside the opening hours for this service's length")
    raise SlotNotOffered(
        f"starts are offered every {config.slot_step_minutes} minutes from the opening time; "
        "pick one from the availability answer"
    )
