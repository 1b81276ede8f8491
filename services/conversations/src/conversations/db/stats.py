"""The analytics queries behind `GET /conversations/stats`, in the workspace's local time."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_CONVERSATIONS = """
    SELECT {key} AS key, count(*) AS n
    FROM conversations.conversations c
    WHERE c.workspace_id = :ws AND c.started_at >= :lo AND c.started_at < :hi
    GROUP BY 1
"""

_MESSAGES = """
    SELECT {key} AS key, count(*) AS n
    FROM conversations.messages m
    JOIN conversations.conversations c ON c.id = m.conversation_id
    WHERE m.workspace_id = :ws AND m.sent_at >= :lo AND m.sent_at < :hi
    GROUP BY 1
"""

_FIRST_RESPONSE = """
    SELECT count(*) AS answered,
           avg(extract(epoch FROM fr.t - fv.t)) AS average,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM fr.t - fv.t)) AS median
    FROM conversations.conversations c
    CROSS JOIN LATERAL (
        SELECT min(m.sent_at) AS t FROM conversations.messages m
        WHERE m.conversation_id = c.id AND m.role = 'visitor'
    ) fv
    CROSS JOIN LATERAL (
        SELECT min(m.sent_at) AS t FROM conversations.messages m
        WHERE m.conversation_id = c.id AND m.role IN ('agent', 'owner') AND m.sent_at >= fv.t
    ) fr
    WHERE c.workspace_id = :ws AND c.started_at >= :lo AND c.started_at < :hi
      AND fr.t IS NOT NULL
"""

_TIME_SAVED_PER_DAY = """
    SELECT d::date AS day, coalesce(s.seconds, 0) AS seconds
    FROM generate_series(CAST(:first_day AS date), CAST(:last_day AS date), interval '1 day') d
    LEFT JOIN (
        SELECT (c.started_at AT TIME ZONE :tz)::date AS day, sum(c.time_saved_seconds) AS seconds
        FROM conversations.conversations c
        WHERE c.workspace_id = :ws AND c.started_at >= :lo AND c.started_at < :hi
        GROUP BY 1
    ) s ON s.day = d::date
    ORDER BY 1
"""


# The agent, over conversations started in the range: those it answered, those it resolved
# with no person involved (no handoff, no owner message, resolved by it and still resolved),
# bookings it made (not cancelled since), handoffs, and time to its first reply.
_AGENT = """
    SELECT count(*) FILTER (WHERE c.agent_replies > 0) AS answered,
           count(*) FILTER (
               WHERE c.status = 'resolved' AND c.resolved_by = 'agent'
                 AND c.handed_off_at IS NULL
                 AND NOT EXISTS (
                     SELECT 1 FROM conversations.messages o
                     WHERE o.conversation_id = c.id AND o.role = 'owner'
                 )
           ) AS resolved,
           count(*) FILTER (
               WHERE c.agent_booking IS NOT NULL AND NOT (c.agent_booking ? 'cancelled_at')
           ) AS bookings,
           count(*) FILTER (WHERE c.handed_off_at IS NOT NULL) AS handoffs
    FROM conversations.conversations c
    WHERE c.workspace_id = :ws AND c.started_at >= :lo AND c.started_at < :hi
"""

_AGENT_FIRST_REPLY = """
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM fa.t - fv.t)) AS median
    FROM conversations.conversations c
    CROSS JOIN LATERAL (
        SELECT min(m.sent_at) AS t FROM conversations.messages m
        WHERE m.conversation_id = c.id AND m.role = 'visitor'
    ) fv
    CROSS JOIN LATERAL (
        SELECT min(m.sent_at) AS t FROM conversations.messages m
        WHERE m.conversation_id = c.id AND m.role = 'agent' AND m.sent_at >= fv.t
    ) fa
    WHERE c.workspace_id = :ws AND c.started_at >= :lo AND c.started_at < :hi
      AND fa.t IS NOT NULL
"""


# Reminders and confirmations settled in the range (sent: written and queued for delivery),
# and bookings the visitor confirmed in it.
_REMINDERS = """
    SELECT count(*) FILTER (WHERE j.status = 'sent' AND j.kind = 'reminder') AS sent,
           count(*) FILTER (WHERE j.status = 'failed' AND j.kind = 'reminder') AS failed,
           count(*) FILTER (WHERE j.status = 'sent' AND j.kind = 'confirmation') AS confirmations
    FROM conversations.reminder_jobs j
    WHERE j.workspace_id = :ws AND j.updated_at >= :lo AND j.updated_at < :hi
      AND j.status IN ('sent', 'failed')
"""

# What became of the bookings: confirmed by the visitor, cancelled or moved after a reminder
# had gone (each counted when it happened), and attendance as the owner marked it (counted by
# the appointment's start).
_BOOKING_OUTCOMES = """
    SELECT count(*) FILTER (WHERE b.visitor_confirmed_at >= :lo AND b.visitor_confirmed_at < :hi)
               AS confirmed,
           count(*) FILTER (WHERE b.cancelled_after_reminder_at >= :lo
                              AND b.cancelled_after_reminder_at < :hi) AS cancelled,
           count(*) FILTER (WHERE b.moved_after_reminder_at >= :lo
                              AND b.moved_after_reminder_at < :hi) AS moved,
           count(*) FILTER (WHERE b.start_at >= :lo AND b.start_at < :hi
                              AND b.attendance = 'attended') AS attended,
           count(*) FILTER (WHERE b.start_at >= :lo AND b.start_at < :hi
                              AND b.attendance = 'no_show') AS no_show
    FROM conversations.reminder_bookings b
    WHERE b.workspace_id = :ws
"""


class StatsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _counts(self, sql: str, key: str, params: dict[str, Any]) -> dict[str, int]:
        rows = await self.session.execute(text(sql.format(key=key)), params)
        return {row.key: int(row.n) for row in rows if row.key is not None}

    async def compute(
        self,
        workspace_id: uuid.UUID,
        tz: str,
        lo: datetime,
        hi: datetime,
        first_day: date,
        last_day: date,
    ) -> dict[str, Any]:
        p = {"ws": workspace_id, "lo": lo, "hi": hi}
        conversations = {
            "by_channel": await self._counts(_CONVERSATIONS, "c.channel", p),
            "by_status": await self._counts(_CONVERSATIONS, "c.status", p),
            "by_tag": await self._counts(_CONVERSATIONS, "unnest(c.tags)", p),
        }
        conversations["total"] = sum(conversations["by_channel"].values())  # type: ignore[assignment]
        messages = {
            "by_channel": await self._counts(_MESSAGES, "m.channel", p),
            "by_status": await self._counts(_MESSAGES, "c.status", p),
            "by_tag": await self._counts(_MESSAGES, "unnest(c.tags)", p),
            "by_role": await self._counts(_MESSAGES, "m.role", p),
        }
        messages["total"] = sum(messages["by_channel"].values())  # type: ignore[assignment]
        fr = (await self.session.execute(text(_FIRST_RESPONSE), p)).one()
        days = await self.session.execute(
            text(_TIME_SAVED_PER_DAY), p | {"tz": tz, "first_day": first_day, "last_day": last_day}
        )
        per_day = [{"date": row.day, "seconds": int(row.seconds)} for row in days]
        agent = (await self.session.execute(text(_AGENT), p)).one()
        agent_first = (await self.session.execute(text(_AGENT_FIRST_REPLY), p)).one()
        reminders = (await self.session.execute(text(_REMINDERS), p)).one()
        outcomes = (await self.session.execute(text(_BOOKING_OUTCOMES), p)).one()
        marked = int(outcomes.attended) + int(outcomes.no_show)
        return {
            "conversations": conversations,
            "messages": messages,
            "first_response": {
                "answered": int(fr.answered),
                "average_seconds": float(fr.average) if fr.average is not None else None,
                "median_seconds": float(fr.median) if fr.median is not None else None,
            },
            "time_saved": {
                "total_seconds": sum(d["seconds"] for d in per_day),  # type: ignore[misc]
                "per_day": per_day,
            },
            "agent": {
                "conversations": int(agent.answered),
                "resolved_without_person": int(agent.resolved),
                "bookings": int(agent.bookings),
                "handoffs": int(agent.handoffs),
                "handoff_rate": (
                    round(int(agent.handoffs) / int(agent.answered), 4) if agent.answered else None
                ),
                "median_first_reply_seconds": (
                    float(agent_first.median) if agent_first.median is not None else None
                ),
            },
            "reminders": {
                "sent": int(reminders.sent),
                "failed": int(reminders.failed),
                "confirmations_sent": int(reminders.confirmations),
                "visitor_confirmed": int(outcomes.confirmed),
                "cancelled_after_reminder": int(outcomes.cancelled),
                "moved_after_reminder": int(outcomes.moved),
            },
            "attendance": {
                "attended": int(outcomes.attended),
                "no_show": int(outcomes.no_show),
                "no_show_rate": round(int(outcomes.no_show) / marked, 4) if marked else None,
            },
        }
