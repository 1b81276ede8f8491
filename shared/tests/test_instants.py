"""`Instant` refuses aware datetimes that have no UTC value, and keeps every other one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.instants import Instant

instant = TypeAdapter(Instant)


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-12:00"])
def test_an_instant_outside_the_utc_calendar_is_refused_readably(text: str) -> None:
    with pytest.raises(ValidationError, match="UTC time must fall in the years 1 to 9999"):
        instant.validate_python(text)


def test_ordinary_and_edge_instants_pass_unchanged() -> None:
    plus5 = timezone(timedelta(hours=5))
    for value in (
        datetime(2026, 12, 2, 9, 30, tzinfo=plus5),
        datetime(1, 1, 1, 0, 0, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
    ):
        assert instant.validate_python(value) == value
    with pytest.raises(ValidationError):
        instant.validate_python("2026-12-02T09:30:00")  # still aware only
