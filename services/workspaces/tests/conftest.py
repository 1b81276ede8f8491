import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from shared.runtime import Runtime
from shared.testing import TEST_SECRET_KEY, internal_headers, migrated_database, running, test_names
from workspaces.main import create_app
from workspaces.settings import Settings

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"

Headers = dict[str, str]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(**test_names("workspaces"), secret_key=TEST_SECRET_KEY, relay_poll_seconds=0.5)


@pytest.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[str]:
    async with migrated_database(settings.database_url, [ALEMBIC_INI]) as url:
        yield url


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture(scope="session")
async def client(app: FastAPI, database: str) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as client:
        yield client


@pytest.fixture(scope="session")
def runtime(app: FastAPI, client: httpx.AsyncClient) -> Runtime:
    """The running app's runtime (engine, bus); depends on `client` so it is started."""
    runtime: Runtime = app.state.runtime
    return runtime


@pytest.fixture
def as_user(settings: Settings) -> Callable[..., Headers]:
    """Headers the gateway would send for this user."""

    def headers(user_id: UUID | None, is_superuser: bool = False) -> Headers:
        return internal_headers(settings.secret_key, "workspaces", user_id, is_superuser)

    return headers


@pytest.fixture
def new_workspace(
    client: httpx.AsyncClient, as_user: Callable[..., Headers]
) -> Callable[..., Awaitable[tuple[Headers, dict[str, Any]]]]:
    """Create a workspace for a brand-new user; returns that user's headers and the body."""

    async def create(**fields: Any) -> tuple[Headers, dict[str, Any]]:
        headers = as_user(uuid.uuid4())
        body = {"handle": f"ws-{uuid.uuid4().hex[:12]}", "name": "Acme", "timezone": "UTC"} | fields
        response = await client.post("/api/v1/workspaces/", json=body, headers=headers)
        assert response.status_code == 201, response.text
        return headers, response.json()

    return create


@pytest.fixture
def outbox_rows(runtime: Runtime) -> Callable[..., Awaitable[list[Any]]]:
    """Outbox rows of one aggregate (a workspace id), oldest first."""

    async def rows(aggregate_id: str, event_type: str | None = None) -> list[Any]:
        sql = "SELECT * FROM workspaces.outbox WHERE aggregate_id = :a"
        params: dict[str, Any] = {"a": str(aggregate_id)}
        if event_type is not None:
            sql += " AND event_type = :t"
            params["t"] = event_type
        async with runtime.engine.connect() as conn:
            return list((await conn.execute(text(sql + " ORDER BY id"), params)).all())

    return rows


@pytest.fixture(scope="session")
def service_name() -> str:
    return "workspaces"
