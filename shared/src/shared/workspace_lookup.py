"""Read your writes across services: ask the workspaces service when a projection misses.

Connectors and conversations keep a local projection of workspaces, fed by `workspace.*`
events. Right after `POST /workspaces/` answers 201 the event is still on its way (tens of
milliseconds), so a frontend's next request (connect a channel, create a connector) would
find no workspace. On such a miss the service fetches the workspace synchronously from the
workspaces service, with an internal token carrying the same caller, and upserts it into its
projection through the same repository method the event consumer uses: newest snapshot wins
(by the workspace's `updated_at`, which never runs ahead of its events' `occurred_at`), and a
tombstone stays final, so the events that follow still apply in order.

One lookup per process, installed by `shared.runtime.served()`; without one (in-process tests)
a miss stays a miss.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote
from uuid import UUID

import httpx

from shared.tokens import ANONYMOUS, Principal, sign_internal_token

log = logging.getLogger(__name__)

AUDIENCE = "workspaces"


@dataclass(frozen=True, slots=True)
class WorkspaceSnapshot:
    id: UUID
    owner_id: UUID
    handle: str
    name: str
    tone: str
    timezone: str
    updated_at: datetime


class WorkspaceLookup:
    def __init__(
        self,
        base_url: str,
        token_key: str,
        timeout_seconds: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_key = token_key  # the workspaces service's (shared.tokens)
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds, connect=1.0), transport=transport
        )

    async def for_owner(self, owner_id: UUID) -> WorkspaceSnapshot | None:
        """The owner's workspace, asked as that owner (the same answer they would get)."""
        return await self._get("/api/v1/workspaces/me", Principal(user_id=owner_id))

    async def by_handle(self, handle: str) -> WorkspaceSnapshot | None:
        return await self._get(
            f"/api/v1/internal/workspaces/by-handle/{quote(handle, safe='')}", ANONYMOUS
        )

    async def _get(self, path: str, principal: Principal) -> WorkspaceSnapshot | None:
        """A miss answered here is a 404 to an owner who just created the workspace, so a
        lookup that failed (a timeout under load, a dropped connection, a 5xx) is tried once
        more before it counts as a miss."""
        token = sign_internal_token(self.token_key, AUDIENCE, principal, ttl_seconds=30)
        response: httpx.Response | None = None
        for attempt in (1, 2):
            try:
                response = await self.client.get(
                    self.base_url + path, headers={"authorization": f"Bearer {token}"}
                )
            except httpx.HTTPError as exc:
                log.warning("workspace lookup failed (attempt %s): %r", attempt, exc)
                response = None
                continue
            if response.status_code < 500:
                break
            log.warning("workspace lookup answered %s (attempt %s)", response.status_code, attempt)
        if response is None:
            return None
        if response.status_code != 200:
            if response.status_code != 404:
                log.warning("workspace lookup answered %s", response.status_code)
            return None
        body = response.json()
        return WorkspaceSnapshot(
            id=UUID(body["id"]),
            owner_id=UUID(body["owner_id"]),
            handle=body["handle"],
            name=body["name"],
            tone=body["tone"],
            timezone=body["timezone"],
            updated_at=datetime.fromisoformat(body["updated_at"]),
        )

    async def close(self) -> None:
        await self.client.aclose()


_installed: WorkspaceLookup | None = None


def install(lookup: WorkspaceLookup | None) -> None:
    global _installed
    _installed = lookup


async def for_owner(owner_id: UUID) -> WorkspaceSnapshot | None:
    return await _installed.for_owner(owner_id) if _installed is not None else None


async def by_handle(handle: str) -> WorkspaceSnapshot | None:
    return await _installed.by_handle(handle) if _installed is not None else None
