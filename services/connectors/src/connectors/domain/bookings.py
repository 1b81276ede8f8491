"""The marks a booking takes after it is made: the visitor's confirmation and the owner's
record of attendance. Pure rules; the use case applies them to the stored booking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from connectors.domain.errors import BookingNotMarkable

Attendance = Literal["attended", "no_show"]


@dataclass(frozen=True, slots=True)
class BookingMarks:
    """What a booking holds now; `apply_marks` answers what it holds after a change."""

    status: str
    start: datetime
    visitor_confirmed_at: datetime | None
    attendance: Attendance | None


@dataclass(frozen=True, slots=True)
class MarksChange:
    """Only what was sent: `set_attendance` tells an explicit null (clear) from nothing."""

    set_attendance: bool = False
    attendance: Attendance | None = None
    visitor_confirmed: bool = False

    @property
    def empty(self) -> bool:
        return not self.set_attendance and not self.visitor_confirmed


def apply_marks(current: BookingMarks, change: MarksChange, now: datetime) -> BookingMarks:
    if change.empty:
        raise BookingNotMarkable("Send `attendance` or `visitor_confirmed`; nothing was changed")
    if current.status == "cancelled":
        raise BookingNotMarkable("This booking is cancelled; it cannot be marked")
    attendance = current.attendance
    if change.set_attendance:
        if change.attendance is not None and current.start > now:
            raise BookingNotMarkable(
                "This booking has not started yet; mark attendance once its start has passed"
            )
        attendance = change.attendance
    confirmed = current.visitor_confirmed_at
    if change.visitor_confirmed and confirmed is None:
        confirmed = now  # the first confirmation is the one kept
    return BookingMarks(current.status, current.start, confirmed, attendance)
