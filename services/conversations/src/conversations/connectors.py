"""The connectors service's `/api/v1/connectors/active/*` API, as conversations calls it.

Service to service with a short-lived internal token for the workspace's owner, so connectors
applies its own authorization (complete mediation): a caller here can only ever reach the
calendar of the owner it names. One HTTP client per process serves the agent's calendar and
the contact page's bookings.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shared import telemetry
from shared.tokens import Principal, sign_internal_token


class ConnectorsUnreachable(Exception):
    """No answer from connectors (refused, reset, timed out)."""


class Connectors:
    def __init__(
        self,
        base_url: str,
        token_key: str,
        timeout_seconds: float,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base = base_url.rstrip("/") + "/api/v1/connectors/active"
        self.token_key = token_key  # the key of internal tokens meant for connectors
        self.timeout = timeout_seconds
        self._client = client
        self._own_client = client is None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False)
            telemetry.instrument_client(self._client)  # a client span per call
        return self._client

    async def request(
        self,
        owner_id: uuid.UUID,
        method: str,
        path: str,
        *,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        token = sign_internal_token(self.token_key, "connectors", Principal(owner_id))
        try:
            return await self._http().request(
                method,
                self.base + path,
                headers={"Authorization": f"Bearer {token}"},
                timeout=timeout if timeout is not None else self.timeout,
                **kwargs,
            )
        except httpx.HTTPError as exc:
            raise ConnectorsUnreachable(type(exc).__name__) from exc

    async def close(self) -> None:
        if self._client is not None and self._own_client:
            await self._client.aclose()
        if self._own_client:
            self._client = None
