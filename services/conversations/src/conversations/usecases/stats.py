"""Conversation analytics for one workspace over a range of local days."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from conversations.db.stats import StatsRepository
from conversations.db.uow import ConversationsUnitOfWork
from conversations.domain.errors import InvalidRange
from conversations.usecases.access import owner_workspace
from shared.tokens import Principal

MAX_DAYS = 366
# Days a range may touch: before 1970 nothing was recorded, and near the calendar's ends the
# default start (end - 29) or the day after `end` would not exist.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9999, 12, 30)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


async def conversation_stats(
    uow: ConversationsUnitOfWork, principal: Principal, start: date | None, end: date | None
) -> dict[str, Any]:
    """`start` and `end` are inclusive local dates in the workspace timezone.

    Conversations count in the range when they started in it; messages when they were sent
    in it; first response time is measured on the conversations that started in it (first
    visitor message to the first agent or owner reply after it); time saved is the sum of
    `time_saved_seconds` of those conversations, by local start day. Reminders count when
    they were settled (sent or failed) in the range, visitor confirmations when given.
    """
    async with uow:
        workspace = await owner_workspace(uow, principal)
        zone = _zone(workspace.timezone)
        today = datetime.now(zone).date()
        last_day = end or today
        for day in (start, end):
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                raise InvalidRange(f"Dates must be between {FIRST_DAY} and {LAST_DAY}")
        first_day = start or max(FIRST_DAY, last_day - timedelta(days=29))
        if first_day > last_day:
            raise InvalidRange("start must be on or before end")
        if (last_day - first_day).days + 1 > MAX_DAYS:
            raise InvalidRange(f"The range can cover at most {MAX_DAYS} days")
        lo = datetime.combine(first_day, time(), zone)
        hi = datetime.combine(last_day + timedelta(days=1), time(), zone)
        result = await StatsRepository(uow.session).compute(
            workspace.id, zone.key, lo, hi, first_day, last_day
        )
        return {"start": first_day, "end": last_day, "timezone": zone.key} | result
