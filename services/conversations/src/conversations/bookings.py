"""A contact's bookings, read from the connectors service (it owns them).

Called service to service with a short-lived internal token for the workspace's owner, as
the agent's calendar does, so connectors applies its own authorization. The contact page
must open whatever connectors does: any failure is a readable note, never an error.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from shared.tokens import Principal, sign_internal_token

# One page is what a contact page shows; an owner with more opens the bookings list.
LIMIT = 100


@dataclass(frozen=True, slots=True)
class ContactBookings:
    bookings: list[dict[str, Any]] | None
    note: str | None = None


class BookingsReader:
    def __init__(self, base_url: str, token_key: str, timeout_seconds: float) -> None:
        self.url = base_url.rstrip("/") + "/api/v1/connectors/active/bookings"
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

    async def for_contact(self, owner_id: uuid.UUID, contact_id: uuid.UUID) -> ContactBookings:
        token = sign_internal_token(self.token_key, "connectors", Principal(owner_id))
        try:
            response = await self._http().get(
                self.url,
                params={"contact_id": str(contact_id), "limit": LIMIT},
                headers={"Authorization": f"Bearer {token}"},
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            return ContactBookings(
                None, f"Bookings unavailable: connectors unreachable ({type(exc).__name__})"
            )
        if response.status_code == 404:
            # No active connector: nothing booked through one.
            return ContactBookings([], "No active connector")
        if response.status_code != 200:
            return ContactBookings(
                None, f"Bookings unavailable: connectors answered {response.status_code}"
            )
        try:
            rows = response.json()["data"]
            assert isinstance(rows, list)
        except (ValueError, KeyError, TypeError, AssertionError):
            return ContactBookings(None, "Bookings unavailable: connectors answered no list")
        # A connectors release that does not know the filter would answer every booking of
        # the workspace: only rows that say they are this contact's are shown.
        if any(not isinstance(r, dict) or "contact_id" not in r for r in rows):
            return ContactBookings(
                None, "Bookings unavailable: connectors does not filter bookings by contact yet"
            )
        mine = [r for r in rows if r["contact_id"] == str(contact_id)]
        return ContactBookings(mine)
