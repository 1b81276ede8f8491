"""A contact's bookings, read from the connectors service (it owns them).

Through the same connectors client as the agent's calendar (`conversations.connectors`). The
contact page must open whatever connectors does: any failure is a readable note, never an
error.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from conversations.connectors import Connectors, ConnectorsUnreachable

# One page is what a contact page shows; an owner with more opens the bookings list.
LIMIT = 100


@dataclass(frozen=True, slots=True)
class ContactBookings:
    bookings: list[dict[str, Any]] | None
    note: str | None = None


class BookingsReader:
    def __init__(self, connectors: Connectors, timeout_seconds: float) -> None:
        self.connectors = connectors
        self.timeout = timeout_seconds  # the contact page waits less than a booking does

    async def for_contact(self, owner_id: uuid.UUID, contact_id: uuid.UUID) -> ContactBookings:
        try:
            response = await self.connectors.request(
                owner_id,
                "GET",
                "/bookings",
                params={"contact_id": str(contact_id), "limit": str(LIMIT)},
                timeout=self.timeout,
            )
        except ConnectorsUnreachable as exc:
            return ContactBookings(None, f"Bookings unavailable: connectors unreachable ({exc})")
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
