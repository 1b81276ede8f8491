"""Read your writes: a lookup that failed once is tried again before it is a miss."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx

from shared.workspace_lookup import WorkspaceLookup

OWNER = uuid.uuid4()
BODY = {
    "id": str(uuid.uuid4()),
    "owner_id": str(OWNER),
    "handle": "acme",
    "name": "Acme",
    "tone": "friendly",
    "timezone": "Europe/Madrid",
    "updated_at": datetime.now(UTC).isoformat(),
}


def _lookup(*answers: httpx.Response | Exception) -> tuple[WorkspaceLookup, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    key = "k" * 44
    return WorkspaceLookup("http://workspaces", key, transport=httpx.MockTransport(handler)), seen


async def test_a_timeout_or_a_5xx_is_tried_once_more() -> None:
    for first in (httpx.ReadTimeout("slow"), httpx.Response(503)):
        lookup, seen = _lookup(first, httpx.Response(200, json=BODY))
        found = await lookup.for_owner(OWNER)
        assert found is not None and found.handle == "acme" and len(seen) == 2
        assert seen[0].headers["authorization"] == seen[1].headers["authorization"]


async def test_a_404_is_a_miss_at_once_and_two_failures_are_a_miss() -> None:
    lookup, seen = _lookup(httpx.Response(404))
    assert await lookup.for_owner(OWNER) is None and len(seen) == 1
    lookup, seen = _lookup(httpx.ConnectError("down"), httpx.ReadTimeout("slow"))
    assert await lookup.for_owner(OWNER) is None and len(seen) == 2
