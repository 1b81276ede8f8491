"""The connectors service's `/api/v1/connectors/active/*` API, as conversations calls it.

Service to service with a short-lived internal token for the workspace's owner, so connectors
applies its own authorization (complete mediation): a caller here can only ever reach the
calendar of the owner it names. One pool of keep-alive connections per process serves the
agent's calendar and the contact page's bookings.

The calls go through `shared.http1`, the client the gateway forwards with, not httpx: on this
machine an httpx call to a loopback service costs about 0.8 ms of the caller's CPU and this
one about a tenth of that, and the agent makes one or two of them per turn.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from http import HTTPStatus
from json import dumps, loads
from typing import Any
from urllib.parse import urlencode

from shared import http1, telemetry
from shared.tokens import Principal, TokenSigner

PREFIX = "/api/v1/connectors/active"


class ConnectorsUnreachable(Exception):
    """No answer from connectors (refused, reset, timed out)."""


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int
    body: bytes

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return loads(self.body)

    @property
    def reason_phrase(self) -> str:
        try:
            return HTTPStatus(self.status_code).phrase
        except ValueError:
            return ""


class Connectors:
    def __init__(self, base_url: str, token_key: str, timeout_seconds: float) -> None:
        self.pool = http1.pool_for("connectors", base_url, timeout_seconds)
        self.tokens = TokenSigner(token_key, "connectors")  # key: connectors' audience

    async def request(
        self,
        owner_id: uuid.UUID,
        method: str,
        path: str,
        *,
        timeout: float | None = None,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> Answer:
        token = self.tokens.token(Principal(owner_id))
        target = PREFIX + path + (f"?{urlencode(params)}" if params else "")
        headers = [("authorization", f"Bearer {token}")]
        body = b""
        if json is not None:
            body = _dumps(json)
            headers.append(("content-type", "application/json"))
        pool = self.pool
        try:
            reply = await telemetry.traced_request(
                pool, method, target, headers, body, path=PREFIX + path, timeout=timeout
            )
        except http1.UpstreamError as exc:
            raise ConnectorsUnreachable(type(exc).__name__) from exc
        return Answer(reply.status, reply.body)

    async def close(self) -> None:
        await self.pool.close()


def _dumps(value: dict[str, Any]) -> bytes:
    return dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
