"""Local stand-ins for Calendly API v2 and the Square Bookings API, served over HTTP on
127.0.0.1 by uvicorn. They follow the providers' documented request and response shapes,
including their error bodies, 401 for a bad token, 429 with Retry-After, 5xx and slow
answers, so the real client code is exercised end to end."""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from shared.testing import LoopbackServer

CALENDLY_TOKEN = "calendly-good-token-1234"
SQUARE_TOKEN = "square-good-token-5678"
AGENDAPRO_KEY = "apk_live_good_key_9012"
CANONICAL = "https://api.calendly.com"  # Calendly's own URIs; never an address we call


@dataclass
class Scripted:
    status: int
    body: Any
    headers: dict[str, str]
    path: str | None
    delay: float


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float


@dataclass
class FakeState:
    tokens: set[str]
    requests: list[Recorded] = field(default_factory=list)
    script: list[Scripted] = field(default_factory=list)
    delay: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer_next(
        self,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        path: str | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Make the next matching request(s) get this answer instead of the real one."""
        with self.lock:
            for _ in range(times):
                self.script.append(Scripted(status, body, headers or {}, path, delay))

    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def reset(self) -> None:
        with self.lock:
            self.script.clear()
            self.requests.clear()
            self.delay = 0.0

    def _scripted(self, path: str) -> Scripted | None:
        with self.lock:
            for i, s in enumerate(self.script):
                if s.path is None or path.startswith(s.path):
                    return self.script.pop(i)
        return None


def _instrument(app: FastAPI, state: FakeState, unauthorized: Any) -> None:
    @app.middleware("http")
    async def record_and_script(request: Request, call_next: Any) -> Response:
        raw = await request.body()
        try:
            import json

            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        state.requests.append(
            Recorded(
                request.method,
                request.url.path,
                dict(request.query_params),
                {k.lower(): v for k, v in request.headers.items()},
                body,
                time.monotonic(),
            )
        )
        scripted = state._scripted(request.url.path)
        if scripted is not None:
            if scripted.delay:
                await asyncio.sleep(scripted.delay)
            return JSONResponse(scripted.body, scripted.status, headers=scripted.headers)
        if state.delay:
            await asyncio.sleep(state.delay)
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in state.tokens:
            return unauthorized()
        return await call_next(request)


# -- Calendly ------------------------------------------------------------------------------


def _cal_error(
    status: int, title: str, message: str, details: list[Any] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"title": title, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def calendly_app(state: FakeState) -> FastAPI:
    app = FastAPI()
    user = f"{CANONICAL}/users/USER0001"

    def user_of(request: Request) -> str:
        # Each token is its own Calendly user, so tests can tell accounts apart.
        token = request.headers.get("authorization", "")[7:]
        return user if token == CALENDLY_TOKEN else f"{CANONICAL}/users/U{abs(hash(token)) % 10**8}"

    org = f"{CANONICAL}/organizations/ORG00001"
    types = {
        "ET30": {"name": "30 Minute Meeting", "duration": 30},
        "ET60": {"name": "Consultation", "duration": 60},
    }
    state.data.setdefault("events", {})
    _instrument(
        app,
        state,
        lambda: _cal_error(401, "Unauthenticated", "The access token is invalid"),
    )

    def event_type(uuid_: str) -> dict[str, Any]:
        t = types[uuid_]
        return {
            "uri": f"{CANONICAL}/event_types/{uuid_}",
            "name": t["name"],
            "active": True,
            "slug": uuid_.lower(),
            "duration": t["duration"],
            "kind": "solo",
            "scheduling_url": f"https://calendly.com/ada/{uuid_.lower()}",
            "description_plain": None,
        }

    @app.get("/users/me")
    async def me(request: Request) -> dict[str, Any]:
        return {
            "resource": {
                "uri": user_of(request),
                "name": "Ada Host",
                "slug": "ada",
                "email": "ada@example.com",
                "timezone": "America/New_York",
                "current_organization": org,
                "scheduling_url": "https://calendly.com/ada",
            }
        }

    @app.get("/event_types")
    async def list_event_types(request: Request) -> Response:
        q = request.query_params
        if q.get("user") != user_of(request) and q.get("organization") != org:
            return _cal_error(
                400,
                "Invalid Argument",
                "The supplied parameters are invalid.",
                [{"parameter": "user", "message": "must be a user you can access"}],
            )
        return JSONResponse(
            {
                "collection": [event_type(k) for k in types],
                "pagination": {"count": len(types), "next_page": None, "next_page_token": None},
            }
        )

    @app.get("/event_types/{uuid_}")
    async def get_event_type(uuid_: str) -> Response:
        if uuid_ not in types:
            return _cal_error(
                404, "Resource Not Found", "The server could not find the requested resource."
            )
        return JSONResponse({"resource": event_type(uuid_)})

    @app.get("/event_type_available_times")
    async def available_times(request: Request) -> Response:
        q = request.query_params
        try:
            start = datetime.fromisoformat(q["start_time"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(q["end_time"].replace("Z", "+00:00"))
            uuid_ = q["event_type"].rsplit("/", 1)[-1]
        except (KeyError, ValueError):
            return _cal_error(400, "Invalid Argument", "The supplied parameters are invalid.")
        if uuid_ not in types:
            return _cal_error(
                404, "Resource Not Found", "The server could not find the requested resource."
            )
        if end - start > timedelta(days=7) or start < datetime.now(UTC) - timedelta(seconds=5):
            return _cal_error(
                400,
                "Invalid Argument",
                "The supplied parameters are invalid.",
                [
                    {
                        "parameter": "start_time",
                        "message": "range must be in the future and at most 7 days",
                    }
                ],
            )
        slots = []
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        while day < end:
            for hour in (13, 20):  # 13:00 and 20:00 UTC every day
                moment = day.replace(hour=hour)
                if start <= moment < end:
                    slots.append(
                        {
                            "status": "available",
                            "invitees_remaining": 1,
                            "start_time": _iso(moment),
                            "scheduling_url": f"https://calendly.com/ada/{uuid_.lower()}",
                        }
                    )
            day += timedelta(days=1)
        return JSONResponse({"collection": slots})

    @app.post("/invitees")
    async def create_invitee(request: Request) -> Response:
        body = await request.json()
        invitee = body.get("invitee") or {}
        missing = [
            name
            for name, value in (
                ("event_type", body.get("event_type")),
                ("start_time", body.get("start_time")),
                ("invitee.email", invitee.get("email")),
                ("invitee.timezone", invitee.get("timezone")),
            )
            if not value
        ]
        if missing:
            return _cal_error(
                400,
                "Invalid Argument",
                "The supplied parameters are invalid.",
                [{"parameter": m, "message": "is required"} for m in missing],
            )
        if body["start_time"] in state.data.setdefault("taken", set()):
            return _cal_error(400, "Invalid Argument", "The selected time is no longer available.")
        event_id = "EV" + uuid.uuid4().hex[:14].upper()
        invitee_id = "INV" + uuid.uuid4().hex[:13].upper()
        state.data["events"][event_id] = {"status": "active", "body": body}
        return JSONResponse(
            {
                "resource": {
                    "uri": f"{CANONICAL}/scheduled_events/{event_id}/invitees/{invitee_id}",
                    "event": f"{CANONICAL}/scheduled_events/{event_id}",
                    "email": invitee["email"],
                    "name": invitee.get("name"),
                    "status": "active",
                    "timezone": invitee["timezone"],
                    "created_at": _iso(datetime.now(UTC)),
                    "updated_at": _iso(datetime.now(UTC)),
                    "rescheduled": False,
                }
            },
            201,
        )

    @app.post("/scheduled_events/{event_id}/cancellation")
    async def cancel(event_id: str, request: Request) -> Response:
        event = state.data["events"].get(event_id)
        if event is None:
            return _cal_error(
                404, "Resource Not Found", "The server could not find the requested resource."
            )
        if event["status"] == "canceled":
            return _cal_error(403, "Permission Denied", "Event is already canceled")
        event["status"] = "canceled"
        raw = await request.body()
        reason = (await request.json()).get("reason") if raw else None
        return JSONResponse(
            {
                "resource": {
                    "canceled_by": "Ada Host",
                    "reason": reason,
                    "canceler_type": "host",
                    "created_at": _iso(datetime.now(UTC)),
                }
            },
            201,
        )

    return app


# -- Square --------------------------------------------------------------------------------


def _sq_error(status: int, category: str, code: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"category": category, "code": code, "detail": detail}]}, status
    )


def square_app(state: FakeState) -> FastAPI:
    app = FastAPI()
    location = {
        "id": "LOC1",
        "name": "Main Street Studio",
        "merchant_id": "MERCHANT1",
        "timezone": "America/Los_Angeles",
        "status": "ACTIVE",
    }
    variation = {
        "type": "ITEM_VARIATION",
        "id": "VAR30",
        "version": 1700000000123,
        "item_variation_data": {
            "item_id": "ITEM1",
            "name": "Regular",
            "service_duration": 1800000,
            "available_for_booking": True,
        },
    }
    counter = itertools.count(1)
    state.data.setdefault("bookings", {})
    state.data.setdefault("by_key", {})
    state.data.setdefault("customers", {})
    # Every token belongs to one merchant (MERCHANT1 unless add_square_merchant says
    # otherwise) and sees only that merchant's locations, as a Square access token does.
    state.data.setdefault("locations", {}).setdefault(location["id"], location)
    state.data.setdefault("merchants", {})
    _instrument(
        app,
        state,
        lambda: _sq_error(
            401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "This request could not be authorized."
        ),
    )

    @app.get("/v2/locations/{location_id}")
    async def get_location(location_id: str, request: Request) -> Response:
        token = request.headers.get("authorization", "")[len("Bearer ") :]
        merchant = state.data["merchants"].get(token, location["merchant_id"])
        found = state.data["locations"].get(location_id)
        if found is None or found["merchant_id"] != merchant:
            return _sq_error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "Location not found.")
        return JSONResponse({"location": found})

    @app.get("/v2/locations")
    async def list_locations() -> dict[str, Any]:
        return {"locations": [location]}

    @app.post("/v2/catalog/search")
    async def search_catalog(request: Request) -> dict[str, Any]:
        return {
            "objects": [
                {
                    "type": "ITEM",
                    "id": "ITEM1",
                    "item_data": {
                        "name": "Haircut",
                        "product_type": "APPOINTMENTS_SERVICE",
                        "variations": [variation],
                    },
                },
                {
                    "type": "ITEM",
                    "id": "ITEM2",
                    "item_data": {
                        "name": "Shampoo bottle",
                        "product_type": "REGULAR",
                        "variations": [],
                    },
                },
            ]
        }

    @app.get("/v2/catalog/object/{object_id}")
    async def get_object(object_id: str) -> Response:
        if object_id != variation["id"]:
            return _sq_error(
                404, "INVALID_REQUEST_ERROR", "NOT_FOUND", f"Object `{object_id}` not found."
            )
        return JSONResponse({"object": variation})

    @app.post("/v2/bookings/availability/search")
    async def search_availability(request: Request) -> Response:
        f = (await request.json())["query"]["filter"]
        start = datetime.fromisoformat(f["start_at_range"]["start_at"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(f["start_at_range"]["end_at"].replace("Z", "+00:00"))
        if end - start < timedelta(hours=24) or end - start > timedelta(days=32):
            return _sq_error(
                400,
                "INVALID_REQUEST_ERROR",
                "INVALID_VALUE",
                "The range must be at least 24 hours and at most 32 days.",
            )
        if f.get("location_id") != location["id"]:
            return _sq_error(400, "INVALID_REQUEST_ERROR", "INVALID_VALUE", "Unknown location.")
        service = f["segment_filters"][0]["service_variation_id"]
        out = []
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        while day < end:
            moment = day.replace(hour=17)  # 17:00 UTC every day
            if start <= moment < end:
                out.append(
                    {
                        "start_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "location_id": location["id"],
                        "appointment_segments": [
                            {
                                "duration_minutes": 30,
                                "service_variation_id": service,
                                "team_member_id": "TM1",
                                "service_variation_version": variation["version"],
                            }
                        ],
                    }
                )
            day += timedelta(days=1)
        return JSONResponse({"availabilities": out, "errors": []})

    @app.post("/v2/customers/search")
    async def search_customers(request: Request) -> Response:
        # Filters of one query are ANDed; exact e-mail matching ignores case, an exact phone
        # must be E.164, as Square documents them.
        filters = ((await request.json()).get("query") or {}).get("filter") or {}
        email = (filters.get("email_address") or {}).get("exact")
        phone = (filters.get("phone_number") or {}).get("exact")
        if phone is not None and not re.fullmatch(r"\+[1-9]\d{6,14}", phone):
            return _sq_error(
                400, "INVALID_REQUEST_ERROR", "INVALID_PHONE_NUMBER", "Invalid phone number."
            )
        found = [
            c
            for c in state.data["customers"].values()
            if (email is None or (c.get("email_address") or "").lower() == email.lower())
            and (phone is None or c.get("phone_number") == phone)
        ]
        return JSONResponse({"customers": found[:1]} if found else {})

    @app.post("/v2/customers")
    async def create_customer(request: Request) -> dict[str, Any]:
        body = await request.json()
        customer = {
            "id": f"CUST{next(counter)}",
            **{k: v for k, v in body.items() if k != "idempotency_key"},
        }
        state.data["customers"][customer["id"]] = customer
        return {"customer": customer}

    @app.post("/v2/bookings")
    async def create_booking(request: Request) -> Response:
        body = await request.json()
        key = body.get("idempotency_key")
        if not key:
            return _sq_error(
                400,
                "INVALID_REQUEST_ERROR",
                "MISSING_REQUIRED_PARAMETER",
                "Missing required parameter.",
            )
        if key in state.data["by_key"]:  # Square answers a repeated key with the same booking
            return JSONResponse({"booking": state.data["bookings"][state.data["by_key"][key]]})
        b = body["booking"]
        if b["start_at"] in state.data.setdefault("taken", set()):
            return _sq_error(
                400, "INVALID_REQUEST_ERROR", "BAD_REQUEST", "That time is no longer available."
            )
        booking = {
            "id": f"BOOK{next(counter)}",
            "version": 0,
            "status": "ACCEPTED",
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **b,
        }
        state.data["bookings"][booking["id"]] = booking
        state.data["by_key"][key] = booking["id"]
        return JSONResponse({"booking": booking})

    @app.post("/v2/bookings/{booking_id}/cancel")
    async def cancel_booking(booking_id: str) -> Response:
        booking = state.data["bookings"].get(booking_id)
        if booking is None:
            return _sq_error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "Booking not found.")
        booking["status"] = "CANCELLED_BY_SELLER"
        booking["version"] += 1
        return JSONResponse({"booking": booking})

    return app


def add_square_location(state: FakeState, location_id: str, merchant_id: str = "MERCHANT1") -> str:
    """A location of a merchant: visible to that merchant's tokens only."""
    state.data["locations"][location_id] = {
        "id": location_id,
        "name": f"Studio {location_id}",
        "merchant_id": merchant_id,
        "timezone": "America/Los_Angeles",
        "status": "ACTIVE",
    }
    return location_id


def add_square_merchant(state: FakeState, token: str, merchant_id: str) -> str:
    """A token that works, for another merchant (sees only that merchant's locations)."""
    state.tokens.add(token)
    state.data["merchants"][token] = merchant_id
    return token


# -- running on loopback -------------------------------------------------------------------


class FakeServer(LoopbackServer):
    def __init__(self, app: FastAPI, state: FakeState) -> None:
        self.state = state
        super().__init__(app, "fake provider")


# -- AgendaPro -----------------------------------------------------------------------------


def _ap_error(status: int, error: str, detail: str | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status)


def agendapro_app(state: FakeState) -> FastAPI:
    """AgendaPro Connect v3 as its public OpenAPI describes it."""
    app = FastAPI()
    counter = itertools.count(100)
    state.data.setdefault("bookings", {})
    state.data.setdefault("clients", {})
    _instrument(app, state, lambda: _ap_error(401, "unauthorized", "invalid_api_key"))
    pagination = {
        "current_page": 1,
        "per_page": 100,
        "next_page": None,
        "prev_page": None,
        "total_records": 1,
        "total_pages": 1,
    }

    @app.get("/v3/locations")
    async def locations() -> dict[str, Any]:
        return {"data": [{"id": 3257, "name": "Sucursal Providencia"}], "pagination": pagination}

    @app.get("/v3/services")
    async def services() -> dict[str, Any]:
        return {
            "data": [{"id": 3698, "name": "Corte de pelo", "duration": 30, "active": True}],
            "pagination": pagination,
        }

    @app.get("/v3/available_slots")
    async def slots(request: Request) -> Response:
        q = request.query_params
        if "location_id" not in q or "start_date" not in q:
            return _ap_error(400, "required", "params")
        if q["location_id"] != "3257":
            return _ap_error(404, "location_not_found")
        return JSONResponse(
            {
                "data": {
                    "slots": [
                        {
                            "start_time": "09:00",
                            "end_time": "09:30",
                            "provider_id": 12964,
                            "provider_name": "Dobby",
                        },
                        {
                            "start_time": "15:30",
                            "end_time": "16:00",
                            "provider_id": 12964,
                            "provider_name": "Dobby",
                        },
                    ],
                    "metadata": {
                        "location_id": 3257,
                        "date": q["start_date"],
                        "service_id": int(q.get("service_id") or 0),
                        "duration": 30,
                        "slots_count": 2,
                    },
                }
            }
        )

    @app.get("/v3/clients/quick-search")
    async def quick_search(request: Request) -> dict[str, Any]:
        q = request.query_params["q"].lower()
        found = [
            c
            for c in state.data["clients"].values()
            if q in (c.get("email") or "").lower() or q in (c.get("phone") or "")
        ]
        return {"data": found}

    @app.post("/v3/clients")
    async def create_client(request: Request) -> Response:
        body = await request.json()
        client = {"id": next(counter), **body}
        if client.get("email"):
            client["email"] = client["email"].lower()
        state.data["clients"][client["id"]] = client
        return JSONResponse(client, 201)

    @app.post("/v3/bookings")
    async def create_booking(request: Request) -> Response:
        body = await request.json()
        missing = [
            k
            for k in (
                "start_time",
                "service_id",
                "provider_id",
                "client_id",
                "location_id",
                "status_id",
            )
            if k not in body
        ]
        if missing:
            return _ap_error(400, "required", ",".join(missing))
        start = datetime.fromisoformat(body["start_time"])
        booking = {
            "id": next(counter),
            "start_time": start.isoformat(),
            "end_time": (start + timedelta(minutes=30)).isoformat(),
            "status_id": 1,
            "status": {"id": 1, "name": "Confirmed"},
            **{k: v for k, v in body.items() if k != "start_time"},
        }
        state.data["bookings"][str(booking["id"])] = booking
        return JSONResponse(booking, 201)

    @app.patch("/v3/bookings/{booking_id}/cancel")
    async def cancel(booking_id: str) -> Response:
        booking = state.data["bookings"].get(booking_id)
        if booking is None:
            return _ap_error(404, "not_found", "booking")
        booking["status"] = {"id": 2, "name": "Cancelled"}
        return Response(status_code=204)

    return app
