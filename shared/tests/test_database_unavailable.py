"""A database that is away answers 503 with Retry-After; a database error of ours stays 500.

The errors are real ones from the local Postgres: a connection terminated by an administrator
(what a restart does to open connections), a server nobody listens on, and a bad statement.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import make_engine
from shared.web import install_common


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def api(engine: AsyncEngine, names: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    nowhere = make_engine(
        names["database_url"].replace(":5432/", f":{closed_port()}/"), pool_size=1
    )
    app = FastAPI()

    @app.get("/terminated")
    async def terminated() -> None:
        async with engine.connect() as conn:
            own = await conn.scalar(text("SELECT pg_backend_pid()"))
            async with engine.connect() as admin:
                await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": own})
            await conn.execute(text("SELECT 1"))

    @app.get("/nowhere")
    async def no_server() -> None:
        async with nowhere.connect() as conn:
            await conn.execute(text("SELECT 1"))

    @app.get("/bug")
    async def bug() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT * FROM no_such_table"))

    install_common(app, "test", None)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    await nowhere.dispose()


@pytest.mark.parametrize("path", ["/terminated", "/nowhere"])
async def test_a_database_that_is_away_is_a_503_to_retry(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert "database" in response.json()["detail"]


async def test_a_database_error_of_ours_stays_a_500(api: httpx.AsyncClient) -> None:
    response = await api.get("/bug")
    assert response.status_code == 500
