"""The built-in calendar's pure rules: hours, overrides, grid, notice, horizon, buffers, DST."""

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from connectors.domain.calendar import Interval, SlotNotOffered, free_slots, held, offered
from connectors.domain.config import BuiltinConfig, parse_config

MADRID = ZoneInfo("Europe/Madrid")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
MONDAY = date(2027, 1, 11)
# Far enough before MONDAY that notice and horizon do not interfere unless a test wants them.
LONG_BEFORE = datetime(2027, 1, 1, tzinfo=UTC)


def config(**overrides: Any) -> BuiltinConfig:
    base: dict[str, Any] = {
        "provider": "builtin",
        "weekly_hours": {"mon": [["09:00", "12:00"], ["13:00", "17:00"]]},
        "min_notice_minutes": 0,
        "max_days_ahead": 365,
        "slot_step_minutes": 15,
    }
    parsed = parse_config(base | overrides)
    assert isinstance(parsed, BuiltinConfig)
    return parsed


def local_starts(slots, zone=MADRID) -> list[str]:
    return [s.start.astimezone(zone).strftime("%H:%M") for s in slots]


def slots(cfg, day=MONDAY, *, zone=MADRID, duration=60, busy=(), now=LONG_BEFORE, last=None):
    return free_slots(
        cfg,
        zone=zone,
        duration_minutes=duration,
        first_day=day,
        last_day=last or day,
        busy=list(busy),
        now=now,
    )


def at(day: date, hhmm: str, zone=MADRID) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, h, m, tzinfo=zone)


# -- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weekly_hours", "field", "words"),
    [
        ({"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}, "mon", "overlap"),
        ({"tue": [["12:00", "09:00"]]}, "tue", "ends before it starts"),
        ({"funday": [["09:00", "12:00"]]}, "funday", "Extra inputs"),
        ({"wed": [["9am", "12:00"]]}, "wed", "pattern"),
        ({"thu": [["09:00", "25:00"]]}, "thu", "pattern"),
    ],
)
def test_bad_weekly_hours_are_refused_naming_the_day(weekly_hours, field, words) -> None:
    with pytest.raises(ValidationError) as caught:
        config(weekly_hours=weekly_hours)
    error = caught.value.errors()[0]
    assert field in error["loc"] and words in error["msg"]


def test_a_date_may_be_overridden_only_once_and_overrides_check_their_ranges() -> None:
    with pytest.raises(ValidationError, match="overridden twice"):
        config(date_overrides=[{"date": "2027-01-11"}, {"date": "2027-01-11", "hours": []}])
    with pytest.raises(ValidationError, match="overlap"):
        config(date_overrides=[{"date": "2027-01-11", "hours": [["09:00", "11:00"]] * 2}])


def test_a_bare_builtin_config_opens_weekdays_nine_to_five() -> None:
    cfg = parse_config({"provider": "builtin"})
    assert isinstance(cfg, BuiltinConfig)
    assert cfg.weekly_hours.fri == [("09:00", "17:00")] and cfg.weekly_hours.sat == []
    assert cfg.secret_fields() == []


# -- hours and grid -------------------------------------------------------------------------


def test_every_start_on_the_step_grid_that_fits_the_service_inside_the_hours() -> None:
    starts = local_starts(slots(config(), duration=60))
    # 09:00-12:00 fits a 60-minute service from 09:00 to 11:00, 13:00-17:00 from 13:00 to 16:00.
    assert starts[:3] == ["09:00", "09:15", "09:30"]
    assert "11:00" in starts and "11:15" not in starts and "12:00" not in starts
    assert starts[-1] == "16:00"
    assert len(starts) == 9 + 13


def test_a_slot_lasts_the_services_duration() -> None:
    first = slots(config(), duration=45)[0]
    assert first.end - first.start == timedelta(minutes=45)


def test_a_day_without_hours_offers_nothing() -> None:
    assert slots(config(), MONDAY + timedelta(days=1)) == []


def test_a_date_override_replaces_the_weekdays_hours_and_an_empty_one_closes_the_day() -> None:
    reopened = config(date_overrides=[{"date": MONDAY.isoformat(), "hours": [["18:00", "20:00"]]}])
    assert local_starts(slots(reopened)) == ["18:00", "18:15", "18:30", "18:45", "19:00"]
    closed = config(date_overrides=[{"date": MONDAY.isoformat(), "hours": []}])
    assert slots(closed) == []
    assert slots(closed, MONDAY + timedelta(days=7))  # only that date


def test_a_range_may_close_at_midnight() -> None:
    cfg = config(weekly_hours={"mon": [["22:00", "24:00"]]})
    assert local_starts(slots(cfg, duration=60)) == ["22:00", "22:15", "22:30", "22:45", "23:00"]


# -- notice and horizon ---------------------------------------------------------------------


def test_no_slot_starts_sooner_than_the_minimum_notice() -> None:
    now = at(MONDAY, "09:50").astimezone(UTC)
    starts = local_starts(slots(config(min_notice_minutes=60), now=now))
    assert (
        starts[0] == "11:00"
    )  # 10:50 is the earliest allowed start; 11:00 is the next on the grid


def test_no_slot_beyond_the_horizon_in_local_days() -> None:
    now = at(MONDAY, "08:00").astimezone(UTC)
    found = slots(config(max_days_ahead=7), now=now, last=MONDAY + timedelta(days=14))
    days = {s.start.astimezone(MADRID).date() for s in found}
    assert days == {MONDAY, MONDAY + timedelta(days=7)}


# -- bookings and buffers -------------------------------------------------------------------


def test_a_confirmed_booking_removes_the_starts_that_would_overlap_it() -> None:
    booked = Interval(at(MONDAY, "10:00"), at(MONDAY, "11:00"))
    starts = local_starts(slots(config(), busy=[booked]))
    assert "09:00" in starts  # ends exactly when the booking starts
    assert not {"09:15", "09:30", "09:45", "10:00", "10:30"} & set(starts)
    assert "11:00" in starts  # starts exactly when the booking ends


def test_buffers_widen_both_the_booking_and_the_candidate() -> None:
    cfg = config(buffer_before_minutes=10, buffer_after_minutes=15)
    booked = held(cfg, at(MONDAY, "10:00"), at(MONDAY, "11:00"))
    assert (booked.start, booked.end) == (at(MONDAY, "09:50"), at(MONDAY, "11:15"))
    starts = local_starts(slots(cfg, duration=30, busy=[booked]))
    # A 30-minute slot holds [start-10, end+15): 09:00 holds until 09:45, free; 09:15 does not.
    assert "09:00" in starts and "09:15" not in starts
    # After the booking: held until 11:15, so a candidate must hold from 11:15, i.e. start 11:25:
    # on the 15-minute grid that is 11:30.
    after = [s for s in starts if "11:00" <= s < "12:00"]
    assert after == ["11:30"]


def test_many_bookings_are_all_respected() -> None:
    busy = [
        Interval(at(MONDAY, f"{h:02d}:00"), at(MONDAY, f"{h:02d}:30")) for h in (9, 10, 11, 14, 15)
    ]
    starts = set(local_starts(slots(config(), duration=30, busy=busy)))
    for b in busy:
        local = b.start.astimezone(MADRID).strftime("%H:%M")
        assert local not in starts
    assert {"09:30", "10:30", "13:00", "16:30"} <= starts


# -- daylight saving and timezones ----------------------------------------------------------


def _dst_day(zone: ZoneInfo, year: int, spring: bool) -> date:
    day = date(year, 1, 1)
    while day.year == year:
        a = datetime.combine(day, datetime.min.time(), zone).utcoffset()
        b = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).utcoffset()
        if a != b and ((b > a) if spring else (b < a)):  # type: ignore[operator]
            return day
        day += timedelta(days=1)
    raise AssertionError("no change found")


@pytest.mark.parametrize("zone", [MADRID, NEW_YORK])
@pytest.mark.parametrize("spring", [True, False])
def test_the_day_of_a_dst_change_keeps_its_local_office_hours(zone, spring) -> None:
    change = _dst_day(zone, 2027, spring)
    cfg = config(weekly_hours={change.strftime("%a").lower(): [["09:00", "17:00"]]})
    found = slots(cfg, change, zone=zone, duration=60)
    assert local_starts(found, zone)[0] == "09:00" and local_starts(found, zone)[-1] == "16:00"
    assert len(found) == 29
    week_before = slots(cfg, change - timedelta(days=7), zone=zone, duration=60)
    assert len(week_before) == len(found)


@pytest.mark.parametrize("zone", [MADRID, NEW_YORK])
@pytest.mark.parametrize("spring", [True, False])
def test_hours_across_the_change_give_no_start_twice_and_lose_none(zone, spring) -> None:
    change = _dst_day(zone, 2027, spring)
    cfg = config(
        weekly_hours={change.strftime("%a").lower(): [["00:00", "06:00"]]}, slot_step_minutes=30
    )
    found = slots(cfg, change, zone=zone, duration=30)
    starts = [s.start for s in found]
    assert len(starts) == len(set(starts))
    # Six wall-clock hours hold five real hours in spring and seven in autumn.
    real_hours = 5 if spring else 7
    assert len(found) == real_hours * 2
    assert all(b - a == timedelta(minutes=30) for a, b in itertools.pairwise(starts))


def test_a_range_closing_in_the_repeated_hour_stays_open_until_its_second_occurrence() -> None:
    autumn = _dst_day(NEW_YORK, 2027, spring=False)
    cfg = config(
        weekly_hours={autumn.strftime("%a").lower(): [["00:00", "01:30"]]}, slot_step_minutes=30
    )
    found = slots(cfg, autumn, zone=NEW_YORK, duration=30)
    # 00:00, 00:30, 01:00 and 01:30 EDT, then 01:00 EST: two and a half real hours.
    assert [s.start.astimezone(NEW_YORK).strftime("%H:%M%z") for s in found] == [
        "00:00-0400",
        "00:30-0400",
        "01:00-0400",
        "01:30-0400",
        "01:00-0500",
    ]


def test_hours_follow_the_workspace_timezone() -> None:
    cfg = config()
    madrid = slots(cfg, zone=MADRID)[0].start
    tokyo = slots(cfg, zone=TOKYO)[0].start
    assert madrid.astimezone(MADRID).strftime("%H:%M") == "09:00"
    assert tokyo.astimezone(TOKYO).strftime("%H:%M") == "09:00"
    assert madrid - tokyo == timedelta(hours=8)


# -- the slot offered at booking time -------------------------------------------------------


def test_a_start_from_the_availability_answer_is_offered() -> None:
    start = slots(config())[3].start
    assert offered(
        config(), zone=MADRID, duration_minutes=60, start=start, now=LONG_BEFORE
    ).start == (start)


@pytest.mark.parametrize(
    ("start", "words"),
    [
        (at(MONDAY, "09:07"), "every 15 minutes"),
        (at(MONDAY, "11:30"), "outside the opening hours"),
        (at(MONDAY, "19:00"), "outside the opening hours"),
        (at(MONDAY + timedelta(days=1), "10:00"), "outside the opening hours"),
    ],
)
def test_a_start_the_rules_do_not_offer_is_refused_with_the_reason(start, words) -> None:
    with pytest.raises(SlotNotOffered, match=words):
        offered(config(), zone=MADRID, duration_minutes=60, start=start, now=LONG_BEFORE)


def test_a_start_too_soon_or_too_far_is_refused() -> None:
    now = at(MONDAY, "09:30").astimezone(UTC)
    with pytest.raises(SlotNotOffered, match="notice"):
        offered(
            config(min_notice_minutes=60),
            zone=MADRID,
            duration_minutes=60,
            start=at(MONDAY, "10:00"),
            now=now,
        )
    with pytest.raises(SlotNotOffered, match="days ahead"):
        offered(
            config(max_days_ahead=6),
            zone=MADRID,
            duration_minutes=60,
            start=at(MONDAY + timedelta(days=7), "10:00"),
            now=now,
        )


# -- properties over many zones and days ----------------------------------------------------

ZONES = ["Europe/Madrid", "America/New_York", "Australia/Lord_Howe", "Asia/Tokyo", "UTC"]
# Each zone with its own change days, so the examples land on them often, or any day.
CHANGES = [
    (name, _dst_day(ZoneInfo(name), year, spring))
    for name in ZONES[:3]
    for year in (2026, 2027, 2028)
    for spring in (True, False)
]
ANY_DAY = st.tuples(st.sampled_from(ZONES), st.dates(date(2026, 1, 1), date(2028, 12, 31)))


def _wall(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """The latest instant showing this wall time on that day (past the gap if it has none)."""
    if minutes == 24 * 60:
        day, minutes = day + timedelta(days=1), 0
    local = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=zone)
    return max(local, local.replace(fold=1), key=lambda d: d.astimezone(UTC))


@settings(max_examples=150, deadline=None)
@given(
    case=st.sampled_from(CHANGES) | ANY_DAY,
    # Opening times in the small hours, where the changes happen, come up more often.
    opens=st.integers(min_value=0, max_value=12) | st.integers(min_value=0, max_value=22 * 4),
    length=st.integers(min_value=1, max_value=8 * 4),
    step=st.sampled_from([5, 10, 15, 30, 60]),
    duration=st.sampled_from([15, 30, 45, 60, 90]),
)
def test_any_day_gives_unique_increasing_starts_that_fit_inside_its_hours(
    case, opens, length, step, duration
) -> None:
    zone_name, day = case
    zone = ZoneInfo(zone_name)
    start_min, end_min = opens * 15, min(opens * 15 + length * 15, 24 * 60)
    clock = [
        f"{m // 60:02d}:{m % 60:02d}" if m < 24 * 60 else "24:00" for m in (start_min, end_min)
    ]
    cfg = config(weekly_hours={day.strftime("%a").lower(): [clock]}, slot_step_minutes=step)
    now = datetime.combine(day - timedelta(days=2), datetime.min.time(), UTC)
    found = slots(cfg, day, zone=zone, duration=duration, now=now)
    if end_min - start_min >= duration + 60:  # room even if a change takes an hour away
        assert found
    starts = [s.start for s in found]
    assert starts == sorted(set(starts))
    for s in found:
        assert s.end - s.start == timedelta(minutes=duration)
        local_start = s.start.astimezone(zone)
        assert local_start.date() == day
        # On the wall clock a slot lies inside the hours, but for what a change does: the
        # repeated hour shows earlier times again (the second occurrence, fold 1), and a
        # range closes at the last moment its closing time is shown (or, when that time
        # does not exist that day, when the clock jumps past it).
        minutes = local_start.hour * 60 + local_start.minute
        assert start_min <= minutes or local_start.fold == 1
        closing = _wall(day, end_min, zone)
        assert s.end <= closing.astimezone(UTC)
    # Consecutive starts are one step of real time apart: nothing repeated, nothing skipped.
    assert all(b - a == timedelta(minutes=step) for a, b in itertools.pairwise(starts))
