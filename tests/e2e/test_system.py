"""The whole path on every run: gateway, service, outbox, broker, other service."""

from __future__ import annotations

import httpx

from shared.testing import wait_until

from .conftest import SERVICES, System, create_workspace, signup


async def test_signup_login_and_me_through_the_gateway(api: httpx.AsyncClient) -> None:
    owner = await signup(api)
    me = await api.get("/api/v1/users/me", headers=owner["headers"])
    assert me.status_code == 200
    assert me.json()["email"] == owner["email"]


async def test_services_refuse_calls_that_bypass_the_gateway(system: System) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        for service in SERVICES:
            health = await client.get(f"{system.url(service)}/health")
            assert health.status_code == 200, service
            if service == "gateway":
                continue
            direct = await client.get(f"{system.url(service)}/api/v1/openapi.json")
            assert direct.status_code == 401, service


async def test_each_service_answers_through_the_gateway(api: httpx.AsyncClient) -> None:
    owner = await signup(api)
    await create_workspace(api, owner)
    for path in ("/api/v1/workspaces/me", "/api/v1/workspace-services/", "/api/v1/connectors/"):
        response = await api.get(path, headers=owner["headers"])
        assert response.status_code == 200, (path, response.text)

    async def conversations_listed() -> bool:
        response = await api.get("/api/v1/conversations/", headers=owner["headers"])
        return response.status_code == 200 and response.json()["count"] == 0

    await wait_until(conversations_listed)  # once the workspace event has reached it


async def test_merged_docs_cover_every_service(api: httpx.AsyncClient) -> None:
    doc = (await api.get("/api/v1/openapi.json")).json()
    assert "x-unavailable-services" not in doc
    paths = doc["paths"]
    for path in (
        "/api/v1/login/access-token",
        "/api/v1/workspaces/",
        "/api/v1/connectors/",
        "/api/v1/conversations/",
    ):
        assert path in paths, path


async def test_workspace_created_reaches_the_conversations_service(api: httpx.AsyncClient) -> None:
    owner = await signup(api)
    workspace = await create_workspace(api, owner)

    async def chat_opens() -> httpx.Response | None:
        response = await api.post(
            f"/api/v1/public/workspaces/{workspace['handle']}/conversations",
            json={"visitor_name": "Visitor"},
        )
        return response if response.status_code == 201 else None

    opened = await wait_until(chat_opens)
    assert opened.json()["conversation_id"]


async def test_deleting_a_user_removes_their_workspace_everywhere(api: httpx.AsyncClient) -> None:
    owner = await signup(api)
    workspace = await create_workspace(api, owner)
    handle = workspace["handle"]
    page = await api.get(f"/api/v1/public/workspaces/{handle}")
    assert page.status_code == 200

    deleted = await api.delete("/api/v1/users/me", headers=owner["headers"])
    assert deleted.status_code == 200

    async def page_gone() -> bool:
        return (await api.get(f"/api/v1/public/workspaces/{handle}")).status_code == 404

    async def chat_refused() -> bool:
        response = await api.post(
            f"/api/v1/public/workspaces/{handle}/conversations", json={"visitor_name": "V"}
        )
        return response.status_code == 404

    await wait_until(page_gone)  # user.deleted: gateway -> workspaces
    await wait_until(chat_refused)  # workspace.deleted: workspaces -> conversations
