"""SIGTERM under load: a service stops taking new work, finishes what it accepted, and nothing
that was answered 2xx is lost or stored twice.

This module starts a system of its own (it kills and restarts services), with the same
private database and bus names as the shared end-to-end system.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import make_engine
from shared.testing import served_client, wait_until
from shared.tokens import Principal, audience_key, sign_internal_token

from .conftest import (
    SECRET,
    System,
    create_workspace,
    fakes,
    meta_headers,
    private_system,
    signup,
    whatsapp_text,
)

pytestmark = pytest.mark.timeout(600)

SCHEMAS = ("identity", "workspaces", "connectors", "conversations")


@pytest.fixture(scope="module")
def own_system(providers: Any) -> Iterator[System]:
    """A system of its own: these tests stop and restart services."""
    env = {"GRAPH_API_BASE_URL": providers.graph.url} | LOAD_ENV
    with private_system("shutdown", env) as system:
        yield system


@pytest.fixture(scope="module")
async def own_db(own_system: System) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(own_system.env["DATABASE_URL"], pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def owner(own_system: System) -> dict[str, Any]:
    """An owner with a workspace, a WhatsApp number and a phone conversation to write to."""
    async with served_client(own_system.gateway) as api:
        owner = await signup(api, "shutdown")
        await create_workspace(api, owner)
        phone_number_id = f"pn-shutdown-{uuid.uuid4().hex[:8]}"

        async def connected() -> bool:
            response = await api.post(
                "/api/v1/channel-accounts/",
                headers=owner["headers"],
                json={
                    "channel": "whatsapp",
                    "account_id": phone_number_id,
                    "credentials": {"access_token": fakes.WHATSAPP_TOKEN},
                },
            )
            return response.status_code == 201

        await wait_until(connected)
        call = await api.post(
            "/api/v1/conversations/", headers=owner["headers"], json={"visitor_name": "Caller"}
        )
        assert call.status_code == 201, call.text
    return owner | {"phone_number_id": phone_number_id, "conversation_id": call.json()["id"]}


# Systems under load. The load is one owner writing far more than the owner reply limit
# allows a person (that limit has its own test): lift it. The agent runs elsewhere
# (AGENT_ENABLED=false, as a deployment of its own would): every load webhook is a new
# visitor, and answering thousands of them leaves minutes of agent turns still making events
# after the load stops, a backlog that says nothing about the ingest path under the fault.
LOAD_ENV = {"OWNER_REPLIES_PER_WORKSPACE_PER_MINUTE": "1000000", "AGENT_ENABLED": "false"}


@dataclass
class Load:
    """Concurrent webhooks and owner writes; remembers exactly what was answered 2xx."""

    gateway: str
    owner: dict[str, Any]
    wamids: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    refused: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    # (started, finished) of every 2xx, to see which ones spanned the SIGTERM
    spans: list[tuple[float, float]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def _worker(self, client: httpx.AsyncClient, kind: str) -> None:
        headers = self.owner["headers"]
        while not self._stop.is_set():
            marker = f"{kind}-{uuid.uuid4().hex}"
            started = time.monotonic()
            try:
                if kind == "webhook":
                    wamid = f"wamid.{marker}"
                    body = whatsapp_text(
                        self.owner["phone_number_id"], wamid[-6:], wamid, f"load {wamid}"
                    )
                    response = await client.post(
                        "/api/v1/webhooks/whatsapp", content=body, headers=meta_headers(body)
                    )
                elif kind == "message":
                    response = await client.post(
                        "/api/v1/messages/",
                        headers=headers,
                        json={"conversation_id": self.owner["conversation_id"], "content": marker},
                    )
                else:
                    response = await client.post(
                        "/api/v1/workspace-services/",
                        headers=headers,
                        json={"name": marker[:60], "duration_minutes": 30},
                    )
            except httpx.TransportError:
                self.refused += 1  # refused or cut while the service stops: never accepted
                await asyncio.sleep(0.05)
                continue
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
            if response.is_success:
                self.spans.append((started, time.monotonic()))
                {"webhook": self.wamids, "message": self.messages, "service": self.services}[
                    kind
                ].append(f"wamid.{marker}" if kind == "webhook" else marker[:60])
            elif response.status_code < 500:
                raise AssertionError(f"{kind}: {response.status_code} {response.text}")
            else:
                await asyncio.sleep(0.05)  # 502/503 while the owner of the route is away

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Load]:
        limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
        async with httpx.AsyncClient(base_url=self.gateway, timeout=30, limits=limits) as client:
            kinds = ["webhook"] * 4 + ["message"] * 2 + ["service"] * 2
            tasks = [asyncio.create_task(self._worker(client, kind)) for kind in kinds]
            try:
                yield self
            finally:
                self._stop.set()
                await asyncio.gather(*tasks)


async def sigterm_and_restart(system: System, service: str) -> float:
    """SIGTERM, wait for the process to exit by itself, start it again; returns SIGTERM time."""
    process = system.processes[service]
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(process.wait, 60)
    assert code in (0, -signal.SIGTERM), f"{service} exited with {code}: {system.tail(service)}"
    await asyncio.sleep(0.5)  # some requests meet the closed port
    system.start(service)
    await asyncio.to_thread(system.wait_ready, service)
    return sent


async def scalar(db: AsyncEngine, sql: str, **params: Any) -> Any:
    async with db.connect() as conn:
        return await conn.scalar(text(sql), params)


async def counts_by(db: AsyncEngine, sql: str, keys: list[str]) -> dict[str, int]:
    async with db.connect() as conn:
        rows = (await conn.execute(text(sql), {"keys": keys})).all()
    return {row[0]: row[1] for row in rows}


async def assert_nothing_accepted_is_lost(db: AsyncEngine, load: Load) -> None:
    assert load.wamids and load.messages and load.services, load.statuses

    async def every_webhook_stored() -> bool:
        stored = await scalar(
            db,
            "SELECT count(DISTINCT external_id) FROM conversations.messages "
            "WHERE external_id = ANY(:keys)",
            keys=load.wamids,
        )
        return stored == len(load.wamids)

    await wait_until(every_webhook_stored, timeout=60)
    stored = await counts_by(
        db,
        "SELECT external_id, count(*) FROM conversations.messages "
        "WHERE external_id = ANY(:keys) GROUP BY 1",
        load.wamids,
    )
    assert stored == dict.fromkeys(load.wamids, 1)
    messages = await counts_by(
        db,
        "SELECT content, count(*) FROM conversations.messages "
        "WHERE content = ANY(:keys) GROUP BY 1",
        load.messages,
    )
    assert messages == dict.fromkeys(load.messages, 1)
    services = await counts_by(
        db,
        "SELECT name, count(*) FROM workspaces.workspace_services "
        "WHERE name = ANY(:keys) GROUP BY 1",
        load.services,
    )
    assert services == dict.fromkeys(load.services, 1)

    async def every_outbox_published() -> bool:
        for schema in SCHEMAS:
            left = await scalar(
                db,
                f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL",
            )
            if left:
                return False
        return True

    await wait_until(every_outbox_published, timeout=60)
    # Each stored message announced once (the outbox row of its message.received).
    announced = await scalar(
        db,
        "SELECT count(*) FROM conversations.outbox o JOIN conversations.messages m "
        "ON o.event_type = 'message.received' "
        "AND o.envelope->'payload'->>'message_id' = m.id::text "
        "WHERE m.external_id = ANY(:keys)",
        keys=load.wamids,
    )
    assert announced == len(load.wamids)


@pytest.mark.parametrize("service", ["conversations", "gateway", "workspaces"])
async def test_sigterm_under_load_loses_nothing_that_was_accepted(
    own_system: System, own_db: AsyncEngine, owner: dict[str, Any], service: str
) -> None:
    load = Load(own_system.gateway, owner)
    async with load.running():
        await asyncio.sleep(2)
        sigterm_at = await sigterm_and_restart(own_system, service)
        await asyncio.sleep(2)
    in_flight = [span for span in load.spans if span[0] < sigterm_at < span[1]]
    await assert_nothing_accepted_is_lost(own_db, load)
    log = (own_system.logs / f"{service}.log").read_text()
    assert f'"{service} stopped"' in log, "the lifespan shutdown ran to its end"
    assert "outbox relay stopped after its current batch" in log
    if service == "conversations":
        # No handler was cut short: every consumed line in the log ended "ok".
        outcomes = {
            json.loads(line).get("outcome")
            for line in log.splitlines()
            if '"logger": "consumer"' in line
        }
        assert outcomes <= {"ok"}, outcomes
    print(
        f"{service}: {load.statuses}, refused {load.refused}, in flight at SIGTERM {len(in_flight)}"
    )


async def test_a_request_in_flight_at_sigterm_completes_and_new_connections_are_refused(
    own_system: System, own_db: AsyncEngine, owner: dict[str, Any]
) -> None:
    """A request whose body is still arriving when SIGTERM lands is served to the end."""
    service = "conversations"
    port = own_system.ports[service]
    token = sign_internal_token(
        audience_key(SECRET, service), service, Principal(user_id=uuid.UUID(owner["id"]))
    )
    marker = f"in-flight-{uuid.uuid4().hex}"
    body = json.dumps({"conversation_id": owner["conversation_id"], "content": marker}).encode()
    first_half_sent = asyncio.Event()
    sigterm_sent = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield body[:10]
        first_half_sent.set()
        await sigterm_sent.wait()
        await asyncio.sleep(1.0)  # the server is shutting down by now
        yield body[10:]

    async with httpx.AsyncClient(timeout=30) as client:
        request = asyncio.create_task(
            client.post(
                f"http://127.0.0.1:{port}/api/v1/messages/",
                content=slow_body(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        )
        await first_half_sent.wait()
        await asyncio.sleep(0.3)  # headers and the first chunk are with the server
        process = own_system.processes[service]
        process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        # No longer listening: a new connection is refused while the old one is served.
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
        assert process.poll() is None, "still running: draining the request in flight"
        sigterm_sent.set()
        response = await request
    assert response.status_code == 201, response.text
    code = await asyncio.to_thread(process.wait, 60)
    assert code in (0, -signal.SIGTERM)
    stored = await scalar(
        own_db, "SELECT count(*) FROM conversations.messages WHERE content = :c", c=marker
    )
    assert stored == 1
    own_system.start(service)
    await asyncio.to_thread(own_system.wait_ready, service)
