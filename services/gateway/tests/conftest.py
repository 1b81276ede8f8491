from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.main import create_app
from gateway.settings import Settings
from shared.testing import TEST_SECRET_KEY, Mailbox, migrated_database, running, test_names
from shared.tokens import InvalidInternalToken, audience_key, verify_internal_token

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
SUPERUSER = "root@example.com"
SUPERUSER_PASSWORD = "root-password-123"
METRICS_TOKEN = "gateway-test-metrics-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox().start()
    yield box, box.port
    box.stop()


class Upstream:
    """A real HTTP server on loopback standing in for the services behind the gateway."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Upstream:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("upstream did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def echo_app(secret_key: str, audience: str) -> FastAPI:
    """Checks the internal token like a real service and echoes what it received."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST", "PATCH", "DELETE", "PUT"])
    async def echo(request: Request, path: str):
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        try:
            principal = verify_internal_token(audience_key(secret_key, audience), audience, token)
        except InvalidInternalToken as exc:
            return JSONResponse({"detail": str(exc)}, status_code=401)
        if path.endswith("slow"):
            await asyncio.sleep(3)
        if path == "api/v1/openapi.json":
            return {
                "openapi": "3.1.0",
                "paths": {
                    f"/api/v1/{audience}/": {"get": {"summary": f"list {audience}"}},
                    "/api/v1/public/workspaces/{handle}": {"get": {"summary": "public page"}},
                    "/api/v1/not-forwarded": {"get": {}},
                },
                "components": {"schemas": {f"{audience.title()}Read": {"type": "object"}}},
            }
        return {
            "service": audience,
            "path": request.url.path,
            "query": str(request.url.query),
            "method": request.method,
            "user_id": str(principal.user_id) if principal.user_id else None,
            "is_superuser": principal.is_superuser,
            "body": (await request.body()).decode(),
            "request_id": request.headers.get("x-request-id"),
            "forwarded_for": request.headers.get("x-forwarded-for"),
            "custom": request.headers.get("x-visitor-token"),
            "traceparent": request.headers.get("traceparent"),
        }

    return app


@pytest.fixture(scope="session")
def upstreams() -> Iterator[dict[str, Upstream]]:
    with (
        Upstream(echo_app(TEST_SECRET_KEY, "workspaces")) as ws,
        Upstream(echo_app(TEST_SECRET_KEY, "conversations")) as conv,
    ):
        yield {"workspaces": ws, "conversations": conv}


@pytest.fixture(scope="session")
def settings(mailbox: tuple[Mailbox, int], upstreams: dict[str, Upstream]) -> Settings:
    return Settings(
        **test_names("gateway"),
        secret_key=TEST_SECRET_KEY,
        relay_poll_seconds=0.5,
        first_superuser=SUPERUSER,
        first_superuser_password=SUPERUSER_PASSWORD,
        smtp_host="127.0.0.1",
        smtp_port=mailbox[1],
        frontend_url="http://frontend.test",
        workspaces_url=upstreams["workspaces"].url,
        conversations_url=upstreams["conversations"].url,
        connectors_url=f"http://127.0.0.1:{free_port()}",  # nothing listens: "service down"
        upstream_timeout_seconds=1.0,
        max_body_bytes=4096,
        login_max_failures=3,
        login_max_failures_per_address=6,
        login_max_failures_per_account=6,
        login_slowdown_seconds=1,
        login_window_seconds=60,
        metrics_token=METRICS_TOKEN,
    )


@pytest.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[str]:
    async with migrated_database(settings.database_url, [ALEMBIC_INI]) as url:
        yield url


@pytest.fixture(scope="session")
async def app(settings: Settings, database: str) -> FastAPI:
    return create_app(settings)


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as client:
        yield client


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/login/access-token", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> dict[str, object]:
    """A freshly signed-up owner with their auth headers."""
    email = f"owner-{uuid.uuid4().hex[:10]}@example.com"
    password = "correct-horse-battery"
    response = await client.post(
        "/api/v1/users/signup",
        json={"email": email, "password": password, "full_name": "Ada Owner"},
    )
    assert response.status_code == 201, response.text
    return {
        "id": response.json()["id"],
        "email": email,
        "password": password,
        "headers": await login(client, email, password),
    }


@pytest.fixture
async def superuser_headers(client: httpx.AsyncClient) -> dict[str, str]:
    return await login(client, SUPERUSER, SUPERUSER_PASSWORD)
