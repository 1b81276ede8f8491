"""Infrastructure faults under load: what was answered 2xx is stored exactly once, and the
services recover by themselves.

Postgres restarted while signed webhooks arrive, the conversations process SIGKILLed, the
RabbitMQ node killed outright and started again. Each fault is undone in a `finally`. They
disturb every other test using the same servers, so they are marked `fault`.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import make_engine
from shared.testing import served_client, wait_until

from .conftest import SERVICES, System, create_workspace, fakes, private_system, signup
from .test_shutdown import LOAD_ENV, SCHEMAS, Load, assert_nothing_accepted_is_lost, scalar

pytestmark = [pytest.mark.fault, pytest.mark.timeout(600)]


def run(*command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def postgres_cluster() -> tuple[str, str] | None:
    if shutil.which("pg_lsclusters") is None:
        return None
    for line in run("pg_lsclusters", "-h").stdout.splitlines():
        version, cluster, port, *_ = line.split()
        if port == "5432":
            return version, cluster
    return None


def postgres_ready() -> bool:
    return run("pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432").returncode == 0


def rabbit_running() -> bool:
    return run("rabbitmq-diagnostics", "-q", "check_running").returncode == 0


def restore_rabbit() -> None:
    if run("rabbitmqctl", "-q", "ping").returncode != 0:
        run("rabbitmq-server", "-detached")
        time.sleep(2)  # the node has to exist before await_startup can ask it
    run("rabbitmqctl", "-q", "await_startup", "--timeout", "120")
    if not rabbit_running():
        run("rabbitmqctl", "-q", "start_app")
        run("rabbitmqctl", "-q", "await_startup", "--timeout", "120")


@pytest.fixture(scope="module")
def own_system(providers: Any) -> Iterator[System]:
    env = {"GRAPH_API_BASE_URL": providers.graph.url} | LOAD_ENV
    with private_system("faults", env) as system:
        yield system


@pytest.fixture(scope="module")
async def own_db(own_system: System) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(own_system.env["DATABASE_URL"], pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def owner(own_system: System) -> dict[str, Any]:
    async with served_client(own_system.gateway) as api:
        owner = await signup(api, "faults")
        await create_workspace(api, owner)
        phone_number_id = f"pn-faults-{uuid.uuid4().hex[:8]}"
        account = await api.post(
            "/api/v1/channel-accounts/",
            headers=owner["headers"],
            json={
                "channel": "whatsapp",
                "account_id": phone_number_id,
                "credentials": {"access_token": fakes.WHATSAPP_TOKEN},
            },
        )
        assert account.status_code == 201, account.text
        call = await api.post(
            "/api/v1/conversations/", headers=owner["headers"], json={"visitor_name": "Caller"}
        )
        assert call.status_code == 201, call.text
    return owner | {"phone_number_id": phone_number_id, "conversation_id": call.json()["id"]}


async def settled(db: AsyncEngine, load: Load, timeout: float = 240) -> None:
    """Wait (longer than the shared check does) for the backlog a fault left to drain, so a
    slow catch-up on a busy machine is not mistaken for a loss; the exact counts come after.
    On timeout, say what was left: accepted webhooks not stored, or events not published."""

    async def backlog() -> str:
        stored = await scalar(
            db,
            "SELECT count(DISTINCT external_id) FROM conversations.messages "
            "WHERE external_id = ANY(:keys)",
            keys=load.wamids,
        )
        left = []
        if stored != len(load.wamids):
            left.append(f"{len(load.wamids) - stored} of {len(load.wamids)} webhooks not stored")
        for schema in SCHEMAS:
            unpublished = await scalar(
                db, f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL"
            )
            if unpublished:
                left.append(f"{unpublished} {schema} events not published")
        return ", ".join(left)

    deadline = time.monotonic() + timeout
    while left := await backlog():
        if time.monotonic() > deadline:
            raise AssertionError(f"not drained within {timeout}s: {left}")
        await asyncio.sleep(0.5)


async def alive(system: System, service: str) -> None:
    """Serving HTTP again. Not /ready: while a restarted consumer works through its backlog
    its small test pool can be busy enough for the readiness probe's database check to wait."""

    async def answers() -> bool:
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(f"{system.url(service)}/health")).status_code == 200
        except httpx.HTTPError:
            return False

    await wait_until(answers, timeout=240, interval=0.5)


async def all_ready(system: System) -> None:
    async def ready() -> bool:
        async with httpx.AsyncClient(timeout=2) as client:
            for service in SERVICES:
                try:
                    if (await client.get(f"{system.url(service)}/ready")).status_code != 200:
                        return False
                except httpx.HTTPError:
                    return False
        return True

    await wait_until(ready, timeout=90, interval=0.5)


@pytest.mark.skipif(postgres_cluster() is None, reason="needs a local Postgres cluster")
async def test_postgres_restart_under_signed_webhooks_loses_and_doubles_nothing(
    own_system: System, own_db: AsyncEngine, owner: dict[str, Any]
) -> None:
    cluster = postgres_cluster()
    assert cluster is not None
    load = Load(own_system.gateway, owner)
    try:
        async with load.running():
            await asyncio.sleep(2)
            restarted = await asyncio.to_thread(run, "pg_ctlcluster", *cluster, "restart")
            assert restarted.returncode == 0, restarted.stderr
            await asyncio.sleep(3)
    finally:
        if not postgres_ready():
            await asyncio.to_thread(run, "pg_ctlcluster", *cluster, "start")
    await all_ready(own_system)  # no service was restarted by us
    await settled(own_db, load)
    await assert_nothing_accepted_is_lost(own_db, load)
    assert all(p.poll() is None for p in own_system.processes.values())
    # While the database restarts a request is refused with a 503 to retry, never a 500.
    assert 500 not in load.statuses, load.statuses
    print(f"postgres restart: {load.statuses}, refused {load.refused}")


async def test_conversations_sigkilled_under_inbound_load_loses_and_doubles_nothing(
    own_system: System, own_db: AsyncEngine, owner: dict[str, Any]
) -> None:
    load = Load(own_system.gateway, owner)
    try:
        async with load.running():
            await asyncio.sleep(2)
            own_system.processes["conversations"].send_signal(signal.SIGKILL)
            await asyncio.to_thread(own_system.processes["conversations"].wait, 30)
            await asyncio.sleep(1)  # webhooks keep arriving: the gateway queues them
            own_system.start("conversations")
            await alive(own_system, "conversations")
            await asyncio.sleep(2)
    finally:
        if own_system.processes["conversations"].poll() is not None:
            own_system.start("conversations")
            await asyncio.to_thread(own_system.wait_ready, "conversations", 240)
    await settled(own_db, load)
    await assert_nothing_accepted_is_lost(own_db, load)
    print(f"conversations SIGKILL: {load.statuses}, refused {load.refused}")


@pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs a local RabbitMQ node")
async def test_rabbitmq_node_killed_under_writes_loses_and_doubles_nothing(
    own_system: System, own_db: AsyncEngine, owner: dict[str, Any]
) -> None:
    pid = run("rabbitmqctl", "-q", "eval", "list_to_integer(os:getpid()).").stdout.strip()
    assert pid.isdigit(), pid
    load = Load(own_system.gateway, owner)
    try:
        async with load.running():
            await asyncio.sleep(2)
            await asyncio.to_thread(run, "kill", "-9", pid)  # the whole node, not the app
            await asyncio.sleep(3)  # writes go on: events wait in the outboxes
            await asyncio.to_thread(restore_rabbit)
            await asyncio.sleep(3)
    finally:
        await asyncio.to_thread(restore_rabbit)
    await all_ready(own_system)
    await settled(own_db, load)
    await assert_nothing_accepted_is_lost(own_db, load)
    print(f"rabbitmq killed: {load.statuses}, refused {load.refused}")
