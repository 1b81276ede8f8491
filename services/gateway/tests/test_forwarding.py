from __future__ import annotations

import httpx

from .conftest import METRICS_TOKEN, Upstream


async def test_forwards_with_internal_token_for_the_owning_service(
    client: httpx.AsyncClient, owner
) -> None:
    response = await client.get(
        "/api/v1/workspaces/me?x=1&x=2",
        headers={**owner["headers"], "X-Request-ID": "req-123"},
    )
    assert response.status_code == 200, response.text
    echoed = response.json()
    assert echoed["service"] == "workspaces"
    assert echoed["path"] == "/api/v1/workspaces/me"
    assert echoed["query"] == "x=1&x=2"
    assert echoed["user_id"] == owner["id"]
    assert echoed["is_superuser"] is False
    assert echoed["request_id"] == "req-123"
    assert echoed["forwarded_for"] == "127.0.0.1"
    assert response.headers["x-request-id"] == "req-123"


async def test_trace_context_continues_into_the_service(client: httpx.AsyncClient, owner) -> None:
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = await client.get(
        "/api/v1/workspaces/me", headers={**owner["headers"], "traceparent": parent}
    )
    forwarded = response.json()["traceparent"]
    assert forwarded.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert forwarded != parent  # a new span of the same trace
    fresh = await client.get("/api/v1/workspaces/me", headers=owner["headers"])
    assert fresh.json()["traceparent"].startswith("00-")


async def test_each_resource_goes_to_its_service(client: httpx.AsyncClient, owner) -> None:
    routes = {
        "/api/v1/workspace-services/": "workspaces",
        "/api/v1/conversations/": "conversations",
        "/api/v1/messages/": "conversations",
        "/api/v1/channel-accounts/": "conversations",
        "/api/v1/contacts/": "conversations",
        "/api/v1/reminders/": "conversations",
        "/api/v1/reminders/settings": "conversations",
    }
    for path, service in routes.items():
        response = await client.get(path, headers=owner["headers"])
        assert response.json()["service"] == service, path


async def test_body_and_method_are_forwarded(client: httpx.AsyncClient, owner) -> None:
    response = await client.patch(
        "/api/v1/workspaces/abc", headers=owner["headers"], json={"name": "Acme"}
    )
    assert response.json()["method"] == "PATCH"
    assert response.json()["body"] == '{"name":"Acme"}'


async def test_owner_routes_need_a_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/workspaces/me")
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}
    forged = await client.get(
        "/api/v1/workspaces/me", headers={"Authorization": "Bearer not.a.token"}
    )
    assert forged.status_code == 401


async def test_public_paths_are_forwarded_anonymously(client: httpx.AsyncClient, owner) -> None:
    response = await client.get("/api/v1/public/workspaces/acme", headers=owner["headers"])
    assert response.json()["service"] == "workspaces"
    assert response.json()["user_id"] is None
    chat = await client.post(
        "/api/v1/public/conversations/123/messages", headers={"X-Visitor-Token": "vt"}
    )
    assert chat.json()["service"] == "conversations"
    assert chat.json()["custom"] == "vt"


async def test_unknown_path_is_404(client: httpx.AsyncClient, owner) -> None:
    response = await client.get("/api/v1/nothing-here", headers=owner["headers"])
    assert response.status_code == 404


async def test_wrong_method_on_a_gateway_route_is_405(client: httpx.AsyncClient, owner) -> None:
    response = await client.put("/api/v1/users/me", headers=owner["headers"], json={})
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


async def test_service_down_is_503_with_a_clear_message(client: httpx.AsyncClient, owner) -> None:
    response = await client.get("/api/v1/connectors/", headers=owner["headers"])
    assert response.status_code == 503
    assert response.json() == {"detail": "The connectors service is unavailable, try again shortly"}


async def test_slow_service_is_504(client: httpx.AsyncClient, owner) -> None:
    response = await client.get("/api/v1/workspaces/slow", headers=owner["headers"])
    assert response.status_code == 504
    assert "did not answer in time" in response.json()["detail"]


async def test_large_bodies_are_refused_with_413(client: httpx.AsyncClient, owner) -> None:
    big = b"x" * 5000
    declared = await client.post("/api/v1/workspaces/", headers=owner["headers"], content=big)
    assert declared.status_code == 413
    assert "4096 bytes" in declared.json()["detail"]

    async def chunks():
        for _ in range(5):
            yield b"y" * 1000

    streamed = await client.post(
        "/api/v1/users/signup", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


async def test_merged_openapi_has_gateway_and_service_routes(
    client: httpx.AsyncClient, upstreams: dict[str, Upstream]
) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    paths = doc["paths"]
    assert "/api/v1/login/access-token" in paths
    assert "/api/v1/users/me" in paths
    assert paths["/api/v1/workspaces/"]["get"]["security"] == [{"OAuth2PasswordBearer": []}]
    assert "/api/v1/conversations/" in paths
    assert "security" not in paths["/api/v1/public/workspaces/{handle}"]["get"]
    assert "/api/v1/not-forwarded" not in paths
    assert "WorkspacesRead" in doc["components"]["schemas"]
    assert doc["x-unavailable-services"] == ["connectors"]
    docs = await client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert "/api/v1/openapi.json" in docs.text


async def test_health_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["broker"] == "ok"
    assert (await client.get("/metrics")).status_code == 401
    metrics = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert "http_request_duration_seconds_bucket" in metrics.text


async def test_access_lines_carry_the_request_and_the_signed_in_user(
    client: httpx.AsyncClient, owner
) -> None:
    import json
    import logging

    from shared.logging import JsonFormatter

    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(JsonFormatter("gateway").format(record))

    handler = Capture()
    logging.getLogger("access").addHandler(handler)
    try:
        await client.get("/api/v1/users/me", headers={**owner["headers"], "X-Request-ID": "r-42"})
    finally:
        logging.getLogger("access").removeHandler(handler)
    entry = next(json.loads(line) for line in lines if "/api/v1/users/me" in line)
    assert entry["request_id"] == "r-42"
    assert entry["user_id"] == owner["id"]
    assert entry["status"] == 200
