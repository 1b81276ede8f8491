"""One active connector of each provider, and a booking body that fits it, for tests that
run the same story on every provider against the loopback fakes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .calendar_support import calendar
from .fakes import AGENDAPRO_KEY
from .support import agendapro_config, calendly_config, create_active, square_config

PROVIDERS = ("builtin", "calendly", "square", "agendapro")


@dataclass
class Booker:
    provider: str
    headers: dict[str, str]
    workspace_id: Any
    event_type: str
    start: str  # a start the provider offers
    extra: dict[str, Any]  # what this provider needs besides (staff, e-mail)

    def body(self, **fields: Any) -> dict[str, Any]:
        return {"event_type": self.event_type, "start": self.start, **self.extra, **fields}


def _utc_hour(days: int, hour: int) -> datetime:
    day = date.today() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def booker(provider: str, client, owner, publish, query) -> Booker:
    if provider == "builtin":
        cal = await calendar(client, owner, publish, query)
        return Booker(
            provider,
            cal.headers,
            cal.me.workspace_id,
            str(cal.services["Massage"]),
            cal.at(cal.day(), "10:00"),
            {},
        )
    me = await owner("America/Santiago")
    if provider == "calendly":
        await create_active(client, me.headers, calendly_config())
        # The fake offers 13:00 and 20:00 UTC every day; Calendly needs the e-mail.
        start = _utc_hour(3, 13).isoformat()
        return Booker(
            provider,
            me.headers,
            me.workspace_id,
            "https://api.calendly.com/event_types/ET30",
            start,
            {"email": "vera@example.com"},
        )
    if provider == "square":
        await create_active(client, me.headers, square_config())
        return Booker(
            provider,
            me.headers,
            me.workspace_id,
            "VAR30",
            _utc_hour(3, 17).isoformat(),
            {"staff_id": "TM1"},
        )
    if provider == "agendapro":
        config = agendapro_config(api_key=AGENDAPRO_KEY, service_provider_id=12964)
        await create_active(client, me.headers, config)
        return Booker(
            provider,
            me.headers,
            me.workspace_id,
            "3698",
            _utc_hour(3, 15).isoformat(),
            {"phone": "+56912345678"},
        )
    raise ValueError(provider)
