"""Calendly API v2: /users/me, /event_types, /event_type_available_times, /invitees and
/scheduled_events/{uuid}/cancellation. Errors come as `{"title", "message", "details"}`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx

from connectors.domain.config import CalendlyConfig
from connectors.domain.errors import ProviderRejected
from connectors.domain.scheduling import AccountInfo, Booking, BookingRequest, EventType, Slot
from connectors.providers.base import ProviderHttp, RetryPolicy, json_body, parse_dt, safe_id

# Calendly answers at most 7 days of available times per call.
_WINDOW = timedelta(days=7)


def calendly_reason(response: httpx.Response) -> str:
    body = response.json()
    parts = [body.get("title"), body.get("message")]
    for detail in body.get("details") or []:
        if isinstance(detail, dict):
            parts.append(": ".join(str(v) for v in detail.values() if v))
    return " - ".join(p for p in parts if p)


def last_segment(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


class CalendlyProvider:
    name = "calendly"
    keeps_bookings = False

    def __init__(
        self, config: CalendlyConfig, client: httpx.AsyncClient, base_url: str, policy: RetryPolicy
    ) -> None:
        self.config = config
        self.http = ProviderHttp(
            "calendly",
            client,
            base_url,
            {"Authorization": f"Bearer {config.access_token.get_secret_value()}"},
            policy,
            calendly_reason,
        )
        self._me: dict[str, str] | None = None

    async def _user(self) -> dict[str, str]:
        if self._me is None:
            response = await self.http.request("GET", "/users/me")
            self._me = json_body(response, self.name)["resource"]
        return self._me

    async def check(self) -> AccountInfo:
        me = await self._user()
        return AccountInfo(
            name=me.get("name"),
            account_ref=me.get("uri"),
            organization_ref=me.get("current_organization"),
            details={"email": me.get("email") or "", "timezone": me.get("timezone") or ""},
        )

    def _allowed(self, uri: str) -> bool:
        if not self.config.event_types:
            return True
        wanted = {last_segment(e) for e in self.config.event_types}
        return last_segment(uri) in wanted

    async def event_types(self) -> list[EventType]:
        me = await self._user()
        params: dict[str, str | int] = {"user": me["uri"], "active": "true", "count": 100}
        found: list[EventType] = []
        while True:
            body = json_body(
                await self.http.request("GET", "/event_types", params=params), self.name
            )
            for item in body.get("collection", []):
                if item.get("active", True) and self._allowed(item["uri"]):
                    found.append(
                        EventType(
                            id=item["uri"],
                            name=item.get("name") or item["uri"],
                            duration_minutes=item.get("duration"),
                            description=item.get("description_plain"),
                        )
                    )
            token = (body.get("pagination") or {}).get("next_page_token")
            if not token:
                return found
            params["page_token"] = token

    async def _event_type(self, event_type: str) -> dict[str, object]:
        if not self._allowed(event_type):
            raise ProviderRejected(self.name, "this event type is not offered by the connector")
        response = await self.http.request(
            "GET", f"/event_types/{safe_id(self.name, last_segment(event_type))}"
        )
        resource: dict[str, object] = json_body(response, self.name)["resource"]
        return resource

    async def availability(
        self, event_type: str, start: date, end: date, timezone: str
    ) -> list[Slot]:
        tz = ZoneInfo(timezone)
        kind = await self._event_type(event_type)
        uri = str(kind["uri"])
        duration = kind.get("duration")
        begin = datetime.combine(start, time.min, tz).astimezone(UTC)
        finish = datetime.combine(end + timedelta(days=1), time.min, tz).astimezone(UTC)
        # Calendly refuses start times in the past.
        begin = max(begin, datetime.now(UTC) + timedelta(minutes=1))
        slots: list[Slot] = []
        while begin < finish:
            window_end = min(begin + _WINDOW, finish)
            response = await self.http.request(
                "GET",
                "/event_type_available_times",
                params={
                    "event_type": uri,
                    "start_time": _z(begin),
                    "end_time": _z(window_end),
                },
            )
            for item in json_body(response, self.name).get("collection", []):
                if item.get("status", "available") != "available":
                    continue
                slot_start = parse_dt(item["start_time"]).astimezone(tz)
                slot_end = (
                    slot_start + timedelta(minutes=int(duration))
                    if isinstance(duration, int)
                    else None
                )
                slots.append(Slot(start=slot_start, end=slot_end))
            begin = window_end
        return slots

    async def create_booking(self, request: BookingRequest) -> Booking:
        if not request.visitor.email:
            raise ProviderRejected(self.name, "Calendly needs the visitor's email to book")
        kind = await self._event_type(request.event_type)
        invitee: dict[str, str] = {
            "name": request.visitor.name,
            "email": request.visitor.email,
            "timezone": request.timezone,
        }
        if request.visitor.phone:
            invitee["text_reminder_number"] = request.visitor.phone
        # No idempotency key in Calendly's API: only a 429 (not processed) is retried.
        response = await self.http.request(
            "POST",
            "/invitees",
            json={
                "event_type": kind["uri"],
                "start_time": _z(request.start.astimezone(UTC)),
                "invitee": invitee,
            },
            safe_to_retry=False,
        )
        resource = json_body(response, self.name)["resource"]
        duration = kind.get("duration")
        return Booking(
            id=last_segment(resource["event"]),
            start=request.start,
            end=request.start + timedelta(minutes=int(duration))
            if isinstance(duration, int)
            else None,
            event_type=str(kind["uri"]),
        )

    async def cancel_booking(self, booking_id: str, reason: str | None) -> None:
        await self.http.request(
            "POST",
            f"/scheduled_events/{safe_id(self.name, last_segment(booking_id))}/cancellation",
            json={"reason": reason} if reason else {},
            safe_to_retry=True,
        )


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
