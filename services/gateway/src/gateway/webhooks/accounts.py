"""Each integrator's channel account signs with a secret of its own: where the gateway gets it.

The secret lives in conversations (encrypted with the channel credentials). The gateway asks
for it over the internal API (`GET /api/v1/internal/channel-accounts/{id}/inbound-secret`,
a route it never forwards) and keeps the answer INBOUND_SECRET_CACHE_SECONDS, so a burst of
posts costs one lookup. A signature that fails against a kept secret is checked once more
against a fresh one, so a secret just rotated works at once; the old one works on until the
kept copy expires.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx

log = logging.getLogger(__name__)


class LookupUnavailable(Exception):
    """Conversations did not answer: the integrator should retry (503)."""


@dataclass(frozen=True, slots=True)
class AccountSecret:
    id: uuid.UUID
    workspace_id: uuid.UUID
    channel: str
    account_id: str
    secret: str


class InboundSecrets:
    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        token: Callable[[], str],
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.ttl = ttl_seconds
        self.clock = clock
        self.max_entries = max_entries
        self._kept: dict[uuid.UUID, tuple[float, AccountSecret]] = {}

    def kept(self, account: uuid.UUID) -> AccountSecret | None:
        entry = self._kept.get(account)
        if entry is None or entry[0] <= self.clock():
            self._kept.pop(account, None)
            return None
        return entry[1]

    async def fetch(self, account: uuid.UUID) -> AccountSecret | None:
        """Ask conversations; None when it has no verified integrator account by this id."""
        try:
            response = await self.client.get(
                f"{self.base_url}/api/v1/internal/channel-accounts/{account}/inbound-secret",
                headers={"authorization": f"Bearer {self.token()}"},
            )
        except httpx.HTTPError as exc:
            log.warning("inbound secret lookup failed: %s", exc)
            raise LookupUnavailable from exc
        if response.status_code == 404:
            self._kept.pop(account, None)
            return None
        if response.status_code != 200:
            log.warning("inbound secret lookup answered %s", response.status_code)
            raise LookupUnavailable
        body = response.json()
        found = AccountSecret(
            uuid.UUID(body["id"]),
            uuid.UUID(body["workspace_id"]),
            str(body["channel"]),
            str(body["account_id"]),
            str(body["secret"]),
        )
        if self.ttl > 0:
            if len(self._kept) >= self.max_entries:
                self._kept.clear()  # bounded; the next posts refill what is in use
            self._kept[account] = (self.clock() + self.ttl, found)
        return found
