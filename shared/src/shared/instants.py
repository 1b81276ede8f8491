"""`Instant`: an aware datetime that Postgres, asyncpg and every clock in the system can hold.

An aware datetime at the calendar's ends (`0001-01-01T00:00+05:00`) is valid to pydantic but
has no UTC value (it would fall in year 0), so storing or comparing it failed deep inside the
database driver. As `Instant` it is refused where it comes in, with a readable 422.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


def _in_utc_range(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range: its UTC time must fall in the years 1 to 9999") from None
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_in_utc_range)]
