"""Square Bookings API: /v2/locations, /v2/catalog/search, /v2/bookings/availability/search,
/v2/customers, /v2/bookings and /v2/bookings/{id}/cancel.

Errors come as `{"errors": [{"category", "code", "detail"}]}`. Every write carries an
`idempotency_key`, so writes are retried as safely as reads.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from connectors.domain.config import SquareConfig
from connectors.domain.errors import ProviderRejected
from connectors.domain.scheduling import AccountInfo, Booking, BookingRequest, EventType, Slot
from connectors.providers.base import ProviderHttp, RetryPolicy, json_body, parse_dt, safe_id

# Square searches availability over 24 hours to 32 days per call.
_MAX_WINDOW = timedelta(days=31)
_MIN_WINDOW = timedelta(hours=24)
# Booking statuses that hold the time; the others are cancelled, declined or a no-show.
_LIVE = {"ACCEPTED", "PENDING", None}


def square_reason(response: httpx.Response) -> str:
    errors = response.json().get("errors") or []
    return "; ".join(f"{e.get('code', '')}: {e.get('detail', '')}".strip(": ") for e in errors if e)


class SquareProvider:
    name = "square"
    keeps_bookings = False

    def __init__(
        self,
        config: SquareConfig,
        client: httpx.AsyncClient,
        base_url: str,
        api_version: str,
        policy: RetryPolicy,
    ) -> None:
        self.config = config
        self.http = ProviderHttp(
            "square",
            client,
            base_url,
            {
                "Authorization": f"Bearer {config.access_token.get_secret_value()}",
                "Square-Version": api_version,
            },
            policy,
            square_reason,
        )

    async def check(self) -> AccountInfo:
        location_id = safe_id(self.name, self.config.location_id)
        response = await self.http.request("GET", f"/v2/locations/{location_id}")
        location = json_body(response, self.name)["location"]
        return AccountInfo(
            name=location.get("name"),
            account_ref=location.get("merchant_id"),
            details={"timezone": location.get("timezone") or "", "location_id": location["id"]},
        )

    async def event_types(self) -> list[EventType]:
        found: list[EventType] = []
        body: dict[str, Any] = {
            "object_types": ["ITEM"],
            "query": {
                "exact_query": {
                    "attribute_name": "product_type",
                    "attribute_value": "APPOINTMENTS_SERVICE",
                }
            },
            "limit": 100,
        }
        while True:
            response = await self.http.request(
                "POST", "/v2/catalog/search", json=body, safe_to_retry=True
            )
            data = json_body(response, self.name)
            for item in data.get("objects") or []:
                item_data = item.get("item_data") or {}
                if item.get("is_deleted") or item_data.get("product_type") not in (
                    None,
                    "APPOINTMENTS_SERVICE",
                ):
                    continue
                variations = item_data.get("variations") or []
                for variation in variations:
                    v = variation.get("item_variation_data") or {}
                    if v.get("available_for_booking") is False:
                        continue
                    name = item_data.get("name") or variation["id"]
                    if len(variations) > 1 and v.get("name"):
                        name = f"{name} ({v['name']})"
                    duration = v.get("service_duration")
                    found.append(
                        EventType(
                            id=variation["id"],
                            name=name,
                            duration_minutes=int(duration) // 60000 if duration else None,
                            description=item_data.get("description"),
                        )
                    )
            cursor = data.get("cursor")
            if not cursor:
                return found
            body["cursor"] = cursor

    def _segment_filter(self, event_type: str) -> dict[str, Any]:
        segment: dict[str, Any] = {"service_variation_id": safe_id(self.name, event_type)}
        if self.config.team_member_ids:
            segment["team_member_id_filter"] = {"any": list(self.config.team_member_ids)}
        return segment

    async def availability(
        self, event_type: str, start: date, end: date, timezone: str
    ) -> list[Slot]:
        tz = ZoneInfo(timezone)
        begin = datetime.combine(start, time.min, tz).astimezone(UTC)
        finish = datetime.combine(end + timedelta(days=1), time.min, tz).astimezone(UTC)
        begin = max(begin, datetime.now(UTC) + timedelta(minutes=1))
        slots: list[Slot] = []
        while begin < finish:
            window_end = min(begin + _MAX_WINDOW, finish)
            query_end = max(window_end, begin + _MIN_WINDOW)
            response = await self.http.request(
                "POST",
                "/v2/bookings/availability/search",
                json={
                    "query": {
                        "filter": {
                            "start_at_range": {"start_at": _z(begin), "end_at": _z(query_end)},
                            "location_id": self.config.location_id,
                            "segment_filters": [self._segment_filter(event_type)],
                        }
                    }
                },
                safe_to_retry=True,
            )
            for item in json_body(response, self.name).get("availabilities") or []:
                slot_start = parse_dt(item["start_at"])
                if not begin <= slot_start < window_end:
                    continue
                segments = item.get("appointment_segments") or [{}]
                minutes = sum(int(s.get("duration_minutes") or 0) for s in segments)
                slots.append(
                    Slot(
                        start=slot_start.astimezone(tz),
                        end=(slot_start + timedelta(minutes=minutes)).astimezone(tz)
                        if minutes
                        else None,
                        staff_id=segments[0].get("team_member_id"),
                    )
                )
            begin = window_end
        return slots

    async def _find_customer(self, field: str, value: str) -> str | None:
        response = await self.http.request(
            "POST",
            "/v2/customers/search",
            json={"query": {"filter": {field: {"exact": value}}}, "limit": 1},
            safe_to_retry=True,
        )
        customers = json_body(response, self.name).get("customers") or []
        return str(customers[0]["id"]) if customers else None

    async def _customer_id(self, request: BookingRequest) -> str:
        """The seller's customer with the visitor's e-mail, else phone, else a new one.
        Square ANDs the filters of one search, so each is its own search."""
        visitor = request.visitor
        for field, value in (("email_address", visitor.email), ("phone_number", visitor.phone)):
            if value and (found := await self._find_customer(field, value)):
                return found
        given, _, family = visitor.name.partition(" ")
        payload: dict[str, str] = {
            "idempotency_key": str(
                uuid.uuid5(uuid.NAMESPACE_URL, f"customer:{request.idempotency_key}")
            ),
            "given_name": given,
        }
        if family:
            payload["family_name"] = family
        if visitor.email:
            payload["email_address"] = visitor.email
        if visitor.phone:
            payload["phone_number"] = visitor.phone
        response = await self.http.request(
            "POST", "/v2/customers", json=payload, safe_to_retry=True
        )
        return str(json_body(response, self.name)["customer"]["id"])

    async def create_booking(self, request: BookingRequest) -> Booking:
        variation_id = safe_id(self.name, request.event_type)
        response = await self.http.request("GET", f"/v2/catalog/object/{variation_id}")
        variation = json_body(response, self.name)["object"]
        v = variation.get("item_variation_data") or {}
        duration = int(v.get("service_duration") or 0) // 60000
        team_member = request.staff_id or (
            self.config.team_member_ids[0] if self.config.team_member_ids else None
        )
        if not team_member:
            raise ProviderRejected(
                self.name, "Square needs a staff member: pass the slot's staff_id"
            )
        customer_id = await self._customer_id(request)
        booking: dict[str, Any] = {
            "start_at": _z(request.start),
            "location_id": self.config.location_id,
            "customer_id": customer_id,
            "appointment_segments": [
                {
                    "duration_minutes": duration,
                    "service_variation_id": variation_id,
                    "service_variation_version": variation.get("version"),
                    "team_member_id": team_member,
                }
            ],
        }
        if request.notes:
            booking["customer_note"] = request.notes
        response = await self.http.request(
            "POST",
            "/v2/bookings",
            json={"idempotency_key": request.provider_idempotency_key, "booking": booking},
            safe_to_retry=True,
        )
        created = json_body(response, self.name)["booking"]
        start = parse_dt(created.get("start_at") or _z(request.start))
        return Booking(
            id=created["id"],
            # A repeated key is answered with the booking first made with it, as it is now.
            status="confirmed" if created.get("status") in _LIVE else "cancelled",
            start=start.astimezone(request.start.tzinfo or UTC),
            end=(start + timedelta(minutes=duration)).astimezone(request.start.tzinfo or UTC)
            if duration
            else None,
            event_type=variation_id,
        )

    async def cancel_booking(self, booking_id: str, reason: str | None) -> None:
        booking_id = safe_id(self.name, booking_id)
        await self.http.request(
            "POST",
            f"/v2/bookings/{booking_id}/cancel",
            json={"idempotency_key": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cancel:{booking_id}"))},
            safe_to_retry=True,
        )


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
