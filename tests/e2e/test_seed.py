"""`make seed` against the running system: demo data on every channel, and nothing new the
second time."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.testing import wait_until

from .conftest import META_SECRET, ROOT, System, fakes

pytestmark = pytest.mark.timeout(300)

EMAILS = ["ana@demo.example.com", "ben@demo.example.com", "carla@demo.example.com"]
HANDLES = ["demo-ana-yoga", "demo-ben-barbers", "demo-carla-dental"]
CHANNELS = {"web", "whatsapp", "messenger", "instagram", "sms", "chatgpt", "phone"}


def run_seed(system: System, gateway: str | None = None) -> subprocess.CompletedProcess[str]:
    env = system.env | {
        "SEED_GATEWAY_URL": gateway or system.gateway,
        "META_APP_SECRET": META_SECRET,
        "PUBLIC_BASE_URL": system.gateway,
        # Credentials the loopback fakes confirm, so the demo accounts route.
        "SEED_GRAPH_TOKEN": fakes.WHATSAPP_TOKEN,
        "SEED_TWILIO_ACCOUNT_SID": fakes.TWILIO_SID,
        "SEED_TWILIO_AUTH_TOKEN": fakes.TWILIO_TOKEN,
    }
    return subprocess.run(
        [sys.executable, "deploy/seed.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


async def rows(db: AsyncEngine, sql: str) -> list[tuple]:
    async with db.connect() as conn:
        return [tuple(r) for r in (await conn.execute(text(sql), {"h": HANDLES})).all()]


async def snapshot(db: AsyncEngine) -> dict[str, int]:
    """Row counts of every table of every service (outboxes and inboxes included)."""
    tables = await rows(
        db,
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema IN ('identity', 'workspaces', 'connectors', 'conversations') "
        "AND table_type = 'BASE TABLE' AND table_name <> 'alembic_version'",
    )
    counts = {}
    for schema, table in tables:
        [(n,)] = await rows(db, f'SELECT count(*) FROM "{schema}"."{table}"')
        counts[f"{schema}.{table}"] = n
    return counts


async def settled(db: AsyncEngine, quiet_seconds: float = 3.0, timeout: float = 60.0) -> dict:
    """The row counts once nothing has changed for `quiet_seconds` (longer than the agent's
    burst window), so background work such as the agent's answers is over. Anything the
    second seed run had published would be consumed, answered and counted by then."""
    previous: dict[str, int] | None = None
    quiet_since = 0.0

    async def quiet() -> dict[str, int] | None:
        nonlocal previous, quiet_since
        now = asyncio.get_running_loop().time()
        current = await snapshot(db)
        if current != previous:
            previous, quiet_since = current, now
            return None
        return current if now - quiet_since >= quiet_seconds else None

    return await wait_until(quiet, timeout=timeout, interval=0.5)


async def test_seed_is_refused_clearly_when_the_gateway_is_not_running(system: System) -> None:
    result = await asyncio.to_thread(run_seed, system, "http://127.0.0.1:9")
    assert result.returncode == 1
    assert "not reachable" in result.stderr and "make run" in result.stderr


async def test_seed_creates_demo_data_on_every_channel_once(system: System, db) -> None:
    first = await asyncio.to_thread(run_seed, system)
    assert first.returncode == 0, first.stdout + first.stderr

    owners = await rows(
        db, "SELECT email FROM identity.users WHERE email LIKE '%@demo.example.com'"
    )
    assert sorted(e for (e,) in owners) == EMAILS
    workspaces = await rows(
        db, "SELECT id, handle FROM workspaces.workspaces WHERE handle = ANY(:h)"
    )
    assert sorted(h for _, h in workspaces) == HANDLES
    [(services,)] = await rows(
        db,
        "SELECT count(*) FROM workspaces.workspace_services s "
        "JOIN workspaces.workspaces w ON w.id = s.workspace_id WHERE w.handle = ANY(:h)",
    )
    assert services == 8
    connectors = await rows(
        db,
        "SELECT c.provider, c.is_active FROM connectors.connectors c "
        "JOIN conversations.workspaces w ON w.id = c.workspace_id WHERE w.handle = ANY(:h)",
    )
    # Each workspace keeps its demo provider connector, inactive, and books in its own
    # built-in calendar, active, whose event types are the workspace's services.
    assert sorted(connectors) == [
        ("agendapro", False),
        ("builtin", True),
        ("builtin", True),
        ("builtin", True),
        ("calendly", False),
        ("square", False),
    ]
    [(bookable,)] = await rows(
        db,
        "SELECT count(*) FROM connectors.workspace_services s "
        "JOIN conversations.workspaces w ON w.id = s.workspace_id "
        "WHERE w.handle = ANY(:h) AND s.is_active",
    )
    assert bookable == services
    accounts = await rows(
        db,
        "SELECT a.channel, count(*) FROM conversations.channel_accounts a "
        "JOIN conversations.workspaces w ON w.id = a.workspace_id WHERE w.handle = ANY(:h) "
        "GROUP BY 1",
    )
    assert dict(accounts) == dict.fromkeys(
        ["whatsapp", "messenger", "instagram", "sms", "chatgpt", "phone"], 3
    )
    conversations = await rows(
        db,
        "SELECT c.channel, count(*) FROM conversations.conversations c "
        "JOIN conversations.workspaces w ON w.id = c.workspace_id WHERE w.handle = ANY(:h) "
        "GROUP BY 1",
    )
    assert dict(conversations) == {c: 3 for c in CHANNELS} | {"phone": 6}
    messages = await rows(
        db,
        "SELECT m.channel, m.role, count(*) FROM conversations.messages m "
        "JOIN conversations.conversations c ON c.id = m.conversation_id "
        "JOIN conversations.workspaces w ON w.id = c.workspace_id WHERE w.handle = ANY(:h) "
        # What the seed writes; the running agent may add its own answers to the visitors.
        "AND m.role IN ('visitor', 'owner') "
        "GROUP BY 1, 2",
    )
    by_channel: dict[str, int] = {}
    for channel, _, n in messages:
        by_channel[channel] = by_channel.get(channel, 0) + n
    assert by_channel == {
        "phone": 3 * 3,
        "web": 3 * 3,
        "whatsapp": 3 * 2,
        "messenger": 3 * 1,
        "instagram": 3 * 1,
        "sms": 3 * 2,
        "chatgpt": 3 * 1,
    }
    assert {role for _, role, _ in messages} == {"visitor", "owner"}
    # Inbound messages came through the signed webhooks: the provider ids are stored.
    [(provider_ids,)] = await rows(
        db,
        "SELECT count(*) FROM conversations.messages WHERE external_id LIKE 'demo-%'",
    )
    assert provider_ids == 3 * (2 + 1 + 1 + 1 + 1 + 1)

    # The running agent answers the seeded visitors in the background: compare what the
    # system holds once it has settled, before and after the second run.
    before = await settled(db)
    second = await asyncio.to_thread(run_seed, system)
    assert second.returncode == 0, second.stdout + second.stderr
    added = re.findall(r"\(\+(\d+)\)", second.stdout)
    assert added and set(added) == {"0"}, second.stdout
    assert await settled(db) == before
