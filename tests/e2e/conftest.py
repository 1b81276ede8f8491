"""The four services started for real, as separate processes, and driven through the gateway.

Each run gets its own database, exchange and queue names and ports, so it never touches the
data `make run` uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import aio_pika
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import make_engine
from shared.db.migrations import drop_database, ensure_database, upgrade
from shared.testing import EventStream, Mailbox, served_client, test_names

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("workspaces", "connectors", "conversations", "gateway")
SECRET = "e2e-secret-key-long-enough-for-hs256-signing"
SUPERUSER = "admin@e2e.example.com"
SUPERUSER_PASSWORD = "admin-password-e2e"
META_SECRET = "e2e-meta-app-secret"
METRICS_TOKEN = "e2e-metrics-token-for-prometheus"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class System:
    env: dict[str, str]
    ports: dict[str, int]
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # What each service is given when they must not all share one environment (deployed keys).
    service_env: Callable[[dict[str, str], str], dict[str, str]] | None = None

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(self, service: str) -> None:
        log = open(self.logs / f"{service}.log", "ab")  # noqa: SIM115 - owned by the process
        env = self.service_env(self.env, service) if self.service_env else self.env
        self.processes[service] = subprocess.Popen(
            [sys.executable, "-m", service], cwd=ROOT, env=env, stdout=log, stderr=log
        )

    def wait_ready(self, service: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[service]
            if process.poll() is not None:
                raise RuntimeError(f"{service} exited: {self.tail(service)}")
            try:
                if httpx.get(f"{self.url(service)}/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{service} not ready: {self.tail(service)}")

    def stop(self, service: str, timeout: float = 30) -> int:
        process = self.processes[service]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def tail(self, service: str, lines: int = 40) -> str:
        path = self.logs / f"{service}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def system_env(names: dict[str, str], ports: dict[str, int]) -> dict[str, str]:
    """The environment of one private system: its database, bus names, ports and secrets."""
    env = os.environ | {
        "DATABASE_URL": names["database_url"],
        "RABBITMQ_URL": names["rabbitmq_url"],
        "EVENTS_EXCHANGE": names["events_exchange"],
        "QUEUE_PREFIX": names["queue_prefix"],
        "SECRET_KEY": SECRET,
        "FIRST_SUPERUSER": SUPERUSER,
        "FIRST_SUPERUSER_PASSWORD": SUPERUSER_PASSWORD,
        "META_APP_SECRET": META_SECRET,
        "METRICS_TOKEN": METRICS_TOKEN,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['gateway']}",
        "RELAY_POLL_SECONDS": "1",
        "LOG_LEVEL": "INFO",
        # Two systems may run at once in one test session: stay well inside Postgres's
        # default 100 connections.
        "DB_POOL_SIZE": "4",
    }
    env |= {f"{s.upper()}_URL": f"http://127.0.0.1:{p}" for s, p in ports.items()}
    env |= {f"{s.upper()}_PORT": str(p) for s, p in ports.items()}
    return env


def create_and_migrate(database_url: str) -> None:
    asyncio.run(ensure_database(database_url))
    for service in SERVICES:
        upgrade(ROOT / "services" / service / "alembic.ini", database_url)


@contextmanager
def private_system(
    name: str,
    extra_env: dict[str, str] | None = None,
    service_env: Callable[[dict[str, str], str], dict[str, str]] | None = None,
) -> Iterator[System]:
    """The four services started on free ports with their own database and bus names;
    everything is stopped and removed afterwards. `service_env(env, service)` gives each
    service an environment of its own, when they must not share one."""
    names = test_names(name)
    ports = {service: free_port() for service in SERVICES}
    create_and_migrate(names["database_url"])
    logs = Path(tempfile.mkdtemp(prefix=f"base-{name}-"))
    system = System(
        env=system_env(names, ports) | (extra_env or {}),
        ports=ports,
        logs=logs,
        service_env=service_env,
    )
    try:
        for service in SERVICES:
            system.start(service)
        for service in SERVICES:
            system.wait_ready(service)
        yield system
    finally:
        for service in list(system.processes):
            system.stop(service)
        asyncio.run(delete_bus(names))
        asyncio.run(drop_database(names["database_url"]))
        if not os.environ.get("E2E_KEEP_LOGS"):
            shutil.rmtree(logs, ignore_errors=True)


def _load_fakes() -> ModuleType:
    """The conversations service's loopback provider fakes (Graph API, Twilio, callbacks)."""
    path = ROOT / "services" / "conversations" / "tests" / "fakes.py"
    spec = importlib.util.spec_from_file_location("conversations_provider_fakes", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fakes = _load_fakes()


def meta_headers(body: bytes, secret: str = META_SECRET) -> dict[str, str]:
    """Signed as Meta signs a webhook (X-Hub-Signature-256 over the raw body)."""
    return {
        "X-Hub-Signature-256": fakes.meta_signature(secret, body),
        "Content-Type": "application/json",
    }


def whatsapp_value(phone_number_id: str, **items: Any) -> bytes:
    """A WhatsApp Cloud API webhook body with `items` (messages, contacts, statuses)."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": phone_number_id},
        **items,
    }
    change = {"field": "messages", "value": value}
    entry = {"id": "waba-1", "changes": [change]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def whatsapp_text(
    phone_number_id: str, visitor: str, message_id: str, text: str, sent: int | None = None
) -> bytes:
    """A visitor named Ana writing one text message on WhatsApp."""
    message = {
        "from": visitor,
        "id": message_id,
        "timestamp": str(int(time.time()) if sent is None else sent),
        "type": "text",
        "text": {"body": text},
    }
    return whatsapp_value(
        phone_number_id,
        contacts=[{"profile": {"name": "Ana"}, "wa_id": visitor}],
        messages=[message],
    )


TWILIO_AUTH_TOKEN = fakes.TWILIO_TOKEN


@pytest.fixture(scope="session")
def providers() -> Iterator[Any]:
    """Where replies go in the end-to-end system: fakes on loopback, never a real provider."""
    running = fakes.start_providers()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    """Where the shared system's gateway mails (codes, owner notices): SMTP on loopback."""
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def system(providers: Any, mailbox: Mailbox) -> Iterator[System]:
    extra = {
        "GRAPH_API_BASE_URL": providers.graph.url,
        "TWILIO_API_BASE_URL": providers.twilio.url,
        "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
        "CALLBACK_ALLOW_LOOPBACK_HTTP": "true",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mailbox.port),
    }
    with private_system("e2e", extra) as system:
        yield system


async def delete_bus(names: dict[str, str], timeout: float = 30) -> None:
    """Remove this run's queues (found by prefix) and exchanges. Best effort, and bounded:
    a broker that does not answer leaves names behind (logged), never a hung test run."""
    try:
        await asyncio.wait_for(_delete_bus(names), timeout)
    except (TimeoutError, aio_pika.exceptions.AMQPError, OSError) as exc:
        logging.getLogger(__name__).warning("bus names of %s left: %r", names["queue_prefix"], exc)


async def _delete_bus(names: dict[str, str]) -> None:
    if shutil.which("rabbitmqctl") is None:
        return
    listing = await asyncio.create_subprocess_exec(
        "rabbitmqctl", "-q", "list_queues", "name", stdout=asyncio.subprocess.PIPE
    )
    try:
        out, _ = await listing.communicate()
    finally:
        if listing.returncode is None:
            listing.kill()
    queues = [q for q in out.decode().split() if q.startswith(names["queue_prefix"])]
    connection = await aio_pika.connect(names["rabbitmq_url"], timeout=10)
    try:
        for queue in queues:  # a channel each: a failed delete closes its channel
            await (await connection.channel()).queue_delete(queue)
        for exchange in (names["events_exchange"], names["events_exchange"] + ".dlx"):
            await (await connection.channel()).exchange_delete(exchange)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
async def api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with served_client(system.gateway) as client:
        yield client


@pytest.fixture(scope="session")
async def db(system: System) -> AsyncIterator[AsyncEngine]:
    """Read-only look into the schemas, to check effects the API does not show."""
    engine = make_engine(system.env["DATABASE_URL"], pool_size=2)
    yield engine
    await engine.dispose()


async def signup(api: httpx.AsyncClient, prefix: str = "owner") -> dict[str, object]:
    email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
    password = "e2e-password-123"
    response = await api.post("/api/v1/users/signup", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    token = await api.post(
        "/api/v1/login/access-token", data={"username": email, "password": password}
    )
    assert token.status_code == 200, token.text
    return {
        "id": response.json()["id"],
        "email": email,
        "headers": {"Authorization": f"Bearer {token.json()['access_token']}"},
    }


async def create_workspace(api: httpx.AsyncClient, owner: dict[str, object]) -> dict:
    handle = f"biz-{uuid.uuid4().hex[:10]}"
    response = await api.post(
        "/api/v1/workspaces/",
        headers=owner["headers"],
        json={"handle": handle, "name": "Biz", "tone": "friendly", "timezone": "Europe/Madrid"},
    )
    assert response.status_code == 201, response.text
    return response.json()


# -- Server-Sent Events, read as a browser's EventSource would -----------------------------


@contextlib.asynccontextmanager
async def events(url: str, **kwargs: Any) -> AsyncIterator[EventStream]:
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as http,
        http.stream("GET", url, **kwargs) as response,
    ):
        assert response.status_code == 200, (await response.aread()).decode()
        yield EventStream(response)
