"""AgendaPro Connect v3 (`Authorization: Bearer <api key>`): /v3/locations, /v3/services,
/v3/available_slots, /v3/clients, /v3/bookings and /v3/bookings/{id}/cancel.

Errors come as `{"error", "detail"}`. The API has no idempotency key, so a booking POST is
retried only on 429. Slots are answered as local `HH:MM` for one date at a time; they are
read in the workspace's timezone.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from connectors.domain.config import AgendaProConfig
from connectors.domain.errors import ProviderRejected
from connectors.domain.scheduling import AccountInfo, Booking, BookingRequest, EventType, Slot
from connectors.providers.base import ProviderHttp, RetryPolicy, json_body, parse_dt, safe_id

# One call per day at 70 requests a minute: keep a range short.
MAX_DAYS = 14


def agendapro_reason(response: httpx.Response) -> str:
    body = response.json()
    return " - ".join(str(p) for p in (body.get("error"), body.get("detail")) if p)


class AgendaProProvider:
    name = "agendapro"
    keeps_bookings = False

    def __init__(
        self,
        config: AgendaProConfig,
        client: httpx.AsyncClient,
        base_url: str,
        policy: RetryPolicy,
    ) -> None:
        self.config = config
        self.http = ProviderHttp(
            "agendapro",
            client,
            base_url,
            {"Authorization": f"Bearer {config.api_key.get_secret_value()}"},
            policy,
            agendapro_reason,
        )

    async def check(self) -> AccountInfo:
        page = 1
        while True:
            response = await self.http.request(
                "GET", "/v3/locations", params={"page": page, "per_page": 100}
            )
            body = json_body(response, self.name)
            for location in body.get("data") or []:
                if location.get("id") == self.config.location_id:
                    return AccountInfo(name=location.get("name"))
            next_page = (body.get("pagination") or {}).get("next_page")
            if not next_page:
                raise ProviderRejected(
                    self.name, f"location {self.config.location_id} is not in this account"
                )
            page = int(next_page)

    async def event_types(self) -> list[EventType]:
        found: list[EventType] = []
        page = 1
        while True:
            response = await self.http.request(
                "GET", "/v3/services", params={"page": page, "per_page": 100}
            )
            body = json_body(response, self.name)
            for service in body.get("data") or []:
                if service.get("active") is False:
                    continue
                found.append(
                    EventType(
                        id=str(service["id"]),
                        name=service.get("name") or str(service["id"]),
                        duration_minutes=service.get("duration"),
                        description=service.get("description"),
                    )
                )
            next_page = (body.get("pagination") or {}).get("next_page")
            if not next_page:
                return found
            page = int(next_page)

    async def availability(
        self, event_type: str, start: date, end: date, timezone: str
    ) -> list[Slot]:
        if (end - start).days >= MAX_DAYS:
            raise ProviderRejected(
                self.name, f"AgendaPro availability is limited to {MAX_DAYS} days per request"
            )
        tz = ZoneInfo(timezone)
        service_id = safe_id(self.name, event_type)
        slots: list[Slot] = []
        day = start
        while day <= end:
            params: dict[str, Any] = {
                "location_id": self.config.location_id,
                "start_date": day.isoformat(),
                "service_id": service_id,
            }
            if self.config.service_provider_id:
                params["provider_id"] = self.config.service_provider_id
            response = await self.http.request("GET", "/v3/available_slots", params=params)
            data = json_body(response, self.name).get("data") or {}
            for item in data.get("slots") or []:
                slot_start = datetime.combine(day, time.fromisoformat(item["start_time"]), tz)
                slot_end = (
                    datetime.combine(day, time.fromisoformat(item["end_time"]), tz)
                    if item.get("end_time")
                    else None
                )
                provider_id = item.get("provider_id")
                slots.append(
                    Slot(
                        start=slot_start,
                        end=slot_end,
                        staff_id=str(provider_id) if provider_id is not None else None,
                    )
                )
            day += timedelta(days=1)
        now = datetime.now(tz)
        return [s for s in slots if s.start > now]

    async def _client_id(self, request: BookingRequest) -> int:
        """The location's client with the visitor's e-mail, else phone, else a new one."""
        visitor = request.visitor
        for query in (visitor.email, visitor.phone):
            if not query:
                continue
            response = await self.http.request(
                "GET", "/v3/clients/quick-search", params={"q": query[:50], "limit": 5}
            )
            for client in json_body(response, self.name).get("data") or []:
                email = str(client.get("email") or "").lower()
                if (visitor.email and email == visitor.email.lower()) or (
                    visitor.phone and client.get("phone") == visitor.phone
                ):
                    return int(client["id"])
        first, _, last = visitor.name.partition(" ")
        payload: dict[str, str] = {"first_name": first}
        if last:
            payload["last_name"] = last
        if visitor.email:
            payload["email"] = visitor.email
        if visitor.phone:
            payload["phone"] = visitor.phone
        if len(payload) == 1:
            raise ProviderRejected(
                self.name, "AgendaPro needs the visitor's last name, email or phone"
            )
        response = await self.http.request("POST", "/v3/clients", json=payload, safe_to_retry=False)
        return int(json_body(response, self.name)["id"])

    async def create_booking(self, request: BookingRequest) -> Booking:
        provider_id = request.staff_id or (
            str(self.config.service_provider_id) if self.config.service_provider_id else None
        )
        if not provider_id:
            raise ProviderRejected(
                self.name, "AgendaPro needs a professional: pass the slot's staff_id"
            )
        service_id = (
            int(safe_id(self.name, request.event_type)) if request.event_type.isdigit() else None
        )
        if service_id is None:
            raise ProviderRejected(self.name, "AgendaPro service ids are numbers")
        client_id = await self._client_id(request)
        payload: dict[str, Any] = {
            "start_time": request.start.isoformat(),
            "service_id": service_id,
            "provider_id": int(provider_id),
            "client_id": client_id,
            "location_id": self.config.location_id,
            "status_id": 1,
        }
        if request.notes:
            payload["notes"] = request.notes
        # No idempotency key exists in this API: a POST is never blindly repeated.
        response = await self.http.request(
            "POST", "/v3/bookings", json=payload, safe_to_retry=False
        )
        created = json_body(response, self.name)
        start = parse_dt(created.get("start_time") or request.start.isoformat())
        return Booking(
            id=str(created["id"]),
            start=start,
            end=parse_dt(created["end_time"]) if created.get("end_time") else None,
            event_type=str(service_id),
        )

    async def cancel_booking(self, booking_id: str, reason: str | None) -> None:
        booking_id = safe_id(self.name, booking_id)
        await self.http.request("PATCH", f"/v3/bookings/{booking_id}/cancel", safe_to_retry=True)
