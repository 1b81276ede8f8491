"""The gateway alone, in process (ASGITransport), on a private identity database: for attacks
on the gateway itself, where the services behind it do not matter. Upstreams are loopback
servers the test starts (or nothing at all); e-mails land in a local SMTP sink.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from gateway.main import create_app
from gateway.settings import Settings
from shared.testing import TEST_SECRET_KEY, Mailbox, running, test_names

ROOT = Path(__file__).resolve().parents[2]
GATEWAY_INI = ROOT / "services" / "gateway" / "alembic.ini"
SUPERUSER = "root@security.example.com"
SUPERUSER_PASSWORD = "root-password-security"
PASSWORD = "correct-horse-battery"


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def smtp_sink() -> AsyncIterator[tuple[Mailbox, int]]:
    box = Mailbox().start()
    try:
        yield box, box.port
    finally:
        box.stop()


def settings_for(database_url: str, **overrides: Any) -> Settings:
    """Settings of a gateway on `database_url`, with its own bus names; nothing listens on
    the services' addresses unless `overrides` says where."""
    names = test_names("gateway") | {"database_url": database_url}
    values: dict[str, Any] = {
        **names,
        "secret_key": TEST_SECRET_KEY,
        "first_superuser": SUPERUSER,
        "first_superuser_password": SUPERUSER_PASSWORD,
        "workspaces_url": f"http://127.0.0.1:{unused_port()}",
        "connectors_url": f"http://127.0.0.1:{unused_port()}",
        "conversations_url": f"http://127.0.0.1:{unused_port()}",
        "frontend_url": "http://frontend.test",
        "upstream_timeout_seconds": 2.0,
        "run_relay": False,
    }
    return Settings(**(values | overrides))


@asynccontextmanager
async def gateway(
    database_url: str, **overrides: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A running gateway app (lifespan, bus) and an in-process client to it."""
    app = create_app(settings_for(database_url, **overrides))
    async with running(app) as client:
        yield app, client


async def signup_and_login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> dict[str, str]:
    created = await client.post("/api/v1/users/signup", json={"email": email, "password": password})
    assert created.status_code == 201, created.text
    return await login(client, email, password)


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/login/access-token", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
