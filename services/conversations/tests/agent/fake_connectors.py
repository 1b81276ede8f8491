"""A stand-in for the connectors service's active-connector API on 127.0.0.1, backed by the
evaluation's in-memory calendar, so the agent's real HTTP client is exercised end to end.

It checks the internal token as connectors does (audience `connectors`, the owner as
subject) and serves each owner only their own calendar."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from fastapi import FastAPI, Header, Query
from fastapi.responses import JSONResponse, Response

from conversations.agent.calendar import SlotTaken
from conversations.agent.evaluation.calendar import MemoryCalendar
from shared.testing import LoopbackServer
from shared.tokens import InvalidInternalToken, audience_key, verify_internal_token


class FakeConnectors(LoopbackServer):
    def __init__(self, secret_key: str) -> None:
        self.secret_key = secret_key
        self.calendars: dict[uuid.UUID, MemoryCalendar] = {}
        self.down = False
        self.requests: list[tuple[str, str, uuid.UUID | None]] = []
        self.app = self._app()
        super().__init__(self.app, "fake connectors")

    def _owner(self, authorization: str | None) -> uuid.UUID | None:
        token = (authorization or "").removeprefix("Bearer ")
        try:
            principal = verify_internal_token(
                audience_key(self.secret_key, "connectors"), "connectors", token
            )
        except InvalidInternalToken:
            return None
        return principal.user_id

    def _app(self) -> FastAPI:
        app = FastAPI()
        prefix = "/api/v1/connectors/active"

        def guard(
            path: str, authorization: str | None
        ) -> tuple[MemoryCalendar | None, Response | None]:
            owner = self._owner(authorization)
            self.requests.append(("call", path, owner))
            if self.down:
                return None, JSONResponse({"detail": "provider unreachable"}, 502)
            if owner is None:
                return None, JSONResponse({"detail": "Not authenticated"}, 401)
            calendar = self.calendars.get(owner)
            if calendar is None:
                return None, JSONResponse({"detail": "No active connector"}, 404)
            return calendar, None

        @app.get(prefix + "/event-types")
        async def event_types(authorization: str | None = Header(default=None)) -> Any:
            calendar, error = guard("event-types", authorization)
            if error is not None:
                return error
            assert calendar is not None
            items = await calendar.event_types()
            return {"data": [t.__dict__ for t in items], "count": len(items)}

        @app.get(prefix + "/availability")
        async def availability(
            event_type: str = Query(),
            start: date = Query(),
            end: date = Query(),
            authorization: str | None = Header(default=None),
        ) -> Any:
            calendar, error = guard("availability", authorization)
            if error is not None:
                return error
            assert calendar is not None
            slots = await calendar.availability(event_type, start, end)
            data = [
                {"start": s.start.isoformat(), "end": s.end.isoformat() if s.end else None}
                for s in slots
            ]
            return {"timezone": calendar.timezone, "data": data, "count": len(data)}

        @app.post(prefix + "/bookings", status_code=201)
        async def book(
            body: dict[str, Any], authorization: str | None = Header(default=None)
        ) -> Any:
            calendar, error = guard("bookings", authorization)
            if error is not None:
                return error
            assert calendar is not None
            try:
                booked = await calendar.book(
                    body["event_type"],
                    datetime.fromisoformat(body["start"]),
                    name=body["name"],
                    email=body.get("email"),
                    phone=body.get("phone"),
                    idempotency_key=body["idempotency_key"],
                    conversation_id=uuid.UUID(body["conversation_id"]),
                    contact_id=uuid.UUID(body["contact_id"]) if body.get("contact_id") else None,
                    notes=body.get("notes"),
                )
            except SlotTaken:
                return JSONResponse({"detail": "That time is no longer free"}, 409)
            return {
                "id": booked.id,
                "connector_id": str(uuid.uuid4()),
                "provider": "builtin",
                "event_type": body["event_type"],
                "start": booked.start.isoformat(),
                "end": None,
                "status": "confirmed",
                "idempotency_key": body["idempotency_key"],
            }

        @app.get(prefix + "/bookings")
        async def bookings(
            contact_id: uuid.UUID | None = None, authorization: str | None = Header(default=None)
        ) -> Any:
            calendar, error = guard("bookings", authorization)
            if error is not None:
                return error
            assert calendar is not None
            found = await calendar.upcoming(contact_id) if contact_id else []
            data = [
                {"id": b.id, "event_type": b.event_type, "start": b.start.isoformat()}
                for b in found
            ]
            return {"data": data, "count": len(data)}

        @app.patch(prefix + "/bookings/{booking_id}")
        async def mark(
            booking_id: str, body: dict[str, Any], authorization: str | None = Header(default=None)
        ) -> Any:
            calendar, error = guard("confirm", authorization)
            if error is not None:
                return error
            assert calendar is not None
            if body.get("visitor_confirmed") is True:
                await calendar.confirm(booking_id)
            return {"id": booking_id, "visitor_confirmed_at": datetime.now(UTC).isoformat()}

        @app.delete(prefix + "/bookings/{booking_id}", status_code=204)
        async def cancel(
            booking_id: str,
            reason: str = Query(default="visitor"),
            authorization: str | None = Header(default=None),
        ) -> Response:
            calendar, error = guard("cancel", authorization)
            if error is not None:
                return error
            assert calendar is not None
            await calendar.cancel(booking_id, reason)
            return Response(status_code=204)

        return app
