"""How to make, through the API, one object for each kind of path parameter.

The BOLA matrix and the null-field checks are generated from the OpenAPI document; this is
the one place that knows how to create what a `{param}` names. A path parameter that is in
neither table fails the generated tests loudly, so a new endpoint cannot go unchecked.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.testing import wait_until
from tests.e2e.conftest import create_workspace, signup

Owner = dict[str, Any]
Creator = Callable[[httpx.AsyncClient, Owner], Awaitable[str]]


async def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return response.json()


async def make_owner(api: httpx.AsyncClient, prefix: str = "bola") -> Owner:
    """A signed-up owner with a workspace every service already knows."""
    owner = await signup(api, prefix)
    owner["workspace"] = await create_workspace(api, owner)
    return owner


async def _service(api: httpx.AsyncClient, owner: Owner) -> str:
    body = {"name": "Haircut", "duration_minutes": 30}
    response = await api.post("/api/v1/workspace-services/", headers=owner["headers"], json=body)
    return str((await _ok(response))["id"])


async def _connector(api: httpx.AsyncClient, owner: Owner) -> str:
    body = {"name": "Calendly", "config": {"provider": "calendly", "access_token": "x" * 24}}
    response = await api.post("/api/v1/connectors/", headers=owner["headers"], json=body)
    return str((await _ok(response))["id"])


async def _conversation(api: httpx.AsyncClient, owner: Owner) -> str:
    response = await api.post(
        "/api/v1/conversations/", headers=owner["headers"], json={"channel": "phone"}
    )
    return str((await _ok(response))["id"])


async def _contact(api: httpx.AsyncClient, owner: Owner) -> str:
    """The contact a recorded conversation gets."""
    body = {"channel": "phone", "visitor_name": "Vera", "visitor_contact": "vera@example.com"}
    response = await api.post("/api/v1/conversations/", headers=owner["headers"], json=body)
    return str((await _ok(response))["contact_id"])


async def _message(api: httpx.AsyncClient, owner: Owner) -> str:
    conversation_id = await _conversation(api, owner)
    response = await api.post(
        "/api/v1/messages/",
        headers=owner["headers"],
        json={"conversation_id": conversation_id, "content": "Hello"},
    )
    return str((await _ok(response))["id"])


async def _channel_account(api: httpx.AsyncClient, owner: Owner) -> str:
    body = {
        "channel": "whatsapp",
        "account_id": f"pn-{uuid.uuid4().hex[:12]}",
        "credentials": {"access_token": "wa-token-" + "x" * 20},
    }
    response = await api.post("/api/v1/channel-accounts/", headers=owner["headers"], json=body)
    return str((await _ok(response))["id"])


async def _workspace(api: httpx.AsyncClient, owner: Owner) -> str:
    return str(owner["workspace"]["id"])


async def _user(api: httpx.AsyncClient, owner: Owner) -> str:
    return str(owner["id"])


async def _booking(api: httpx.AsyncClient, owner: Owner) -> str:
    """A real booking on the owner's built-in calendar (no provider account needed)."""
    service_id = await _service(api, owner)

    async def calendar() -> dict[str, Any] | None:  # once connectors knows the workspace
        body = {"name": "Calendar", "provider": "builtin", "config": {}}
        response = await api.post("/api/v1/connectors/", headers=owner["headers"], json=body)
        return response.json() if response.status_code == 201 else None

    connector = await wait_until(calendar)
    await _ok(
        await api.post(f"/api/v1/connectors/{connector['id']}/activate", headers=owner["headers"])
    )

    async def slot() -> str | None:  # once the service reached the calendar's catalogue
        today = datetime.now(UTC).date()
        response = await api.get(
            "/api/v1/connectors/active/availability",
            headers=owner["headers"],
            params={"event_type": service_id, "start": today, "end": today + timedelta(days=7)},
        )
        data = response.json().get("data") if response.status_code == 200 else None
        return data[0]["start"] if data else None

    body = {"event_type": service_id, "start": await wait_until(slot), "name": "Vera"}
    response = await api.post(
        "/api/v1/connectors/active/bookings", headers=owner["headers"], json=body
    )
    return str((await _ok(response))["id"])


CREATORS: dict[str, Creator] = {
    "workspace_id": _workspace,
    "service_id": _service,
    "connector_id": _connector,
    "booking_id": _booking,
    "conversation_id": _conversation,
    "contact_id": _contact,
    "message_id": _message,
    "account_id": _channel_account,
    "user_id": _user,
}

# Parameters that do not name an owner's object, and why.
NOT_OWNED: dict[str, str] = {
    "handle": "a workspace's public handle: public by design",
    "email": "password recovery answers the same for every address",
    "channel": "a signed integrator webhook, not an owner's object",
}


async def objects_of(api: httpx.AsyncClient, owner: Owner, params: set[str]) -> dict[str, str]:
    unknown = sorted(params - CREATORS.keys() - NOT_OWNED.keys())
    assert not unknown, (
        f"path parameters with no creator in tests/security/objects.py: {unknown}; "
        "add one so the BOLA matrix covers the new endpoints"
    )
    return {p: await CREATORS[p](api, owner) for p in sorted(params & CREATORS.keys())}


async def ready_owner(api: httpx.AsyncClient, prefix: str = "bola") -> Owner:
    owner = await make_owner(api, prefix)

    async def connectors_knows() -> bool:  # not needed after read-your-writes, kept honest
        response = await api.get("/api/v1/connectors/", headers=owner["headers"])
        return response.status_code == 200

    await wait_until(connectors_knows)
    return owner
