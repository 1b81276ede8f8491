"""A visitor's "yes, I'll be there", recorded where bookings live: the connectors service.

Called service to service with a short-lived internal token for the workspace's owner, as
the agent's calendar does, so connectors applies its own authorization: only a booking of
that owner's workspace can be marked.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol
from urllib.parse import quote

import httpx

from shared.tokens import Principal, sign_internal_token


class BookingNotFound(LookupError):
    """Connectors knows no such booking in the owner's workspace."""


class BookingsUnavailable(RuntimeError):
    """Connectors could not be asked, or answered something unreadable."""


class BookingMarks(Protocol):
    async def visitor_confirmed(self, owner_id: uuid.UUID, booking_id: str) -> datetime: ...


class ConnectorsBookingMarks:
    """`PATCH /api/v1/connectors/active/bookings/{id}` `{"visitor_confirmed": true}`."""

    def __init__(self, base_url: str, token_key: str, timeout_seconds: float) -> None:
        self.url = base_url.rstrip("/") + "/api/v1/connectors/active/bookings/"
        self.token_key = token_key  # the key of internal tokens meant for connectors
        self.timeout = timeout_seconds
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def visitor_confirmed(self, owner_id: uuid.UUID, booking_id: str) -> datetime:
        token = sign_internal_token(self.token_key, "connectors", Principal(owner_id))
        try:
            response = await self._http().patch(
                self.url + quote(booking_id, safe=""),
                json={"visitor_confirmed": True},
                headers={"Authorization": f"Bearer {token}"},
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            raise BookingsUnavailable(f"connectors unreachable ({type(exc).__name__})") from exc
        if response.status_code == 404:
            raise BookingNotFound("Booking not found")
        if response.status_code != 200:
            raise BookingsUnavailable(f"connectors answered {response.status_code}")
        try:
            return datetime.fromisoformat(response.json()["visitor_confirmed_at"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BookingsUnavailable("connectors answered no visitor_confirmed_at") from exc
