"""RabbitMQ goes away while the API keeps accepting changes; every event still lands once.

Stops the real broker application (`rabbitmqctl stop_app`), so it is marked `fault` and
restores the broker in a `finally` whatever happens.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import httpx
import pytest
from sqlalchemy import text

from shared.testing import wait_until

from .conftest import create_workspace, signup

pytestmark = [
    pytest.mark.fault,
    pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs a local RabbitMQ node"),
]


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


def restore_broker() -> None:
    rabbitmqctl("start_app")
    rabbitmqctl("await_startup", "--timeout", "120")


async def unpublished(db, schema: str) -> int:
    async with db.connect() as conn:
        return int(
            await conn.scalar(
                text(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL")
            )
        )


async def test_events_written_during_a_broker_outage_arrive_exactly_once(
    api: httpx.AsyncClient, db
) -> None:
    # Before the outage: owners with workspaces that conversations already knows.
    doomed = [await signup(api, "doomed") for _ in range(4)]
    doomed_handles = [(await create_workspace(api, owner))["handle"] for owner in doomed]
    newcomers = [await signup(api, "newcomer") for _ in range(4)]

    try:
        await asyncio.to_thread(rabbitmqctl, "stop_app")
        # The API keeps accepting changes: the events wait in each service's outbox.
        for owner in doomed:
            response = await api.delete("/api/v1/users/me", headers=owner["headers"])
            assert response.status_code == 200, response.text
        new_handles = [(await create_workspace(api, owner))["handle"] for owner in newcomers]
        assert await unpublished(db, "identity") >= len(doomed)
        assert await unpublished(db, "workspaces") >= len(newcomers)
        await asyncio.sleep(2)  # the relays try, fail and keep the rows
        assert await unpublished(db, "identity") >= len(doomed)
    finally:
        await asyncio.to_thread(restore_broker)

    async def all_published() -> bool:
        counts = [
            await unpublished(db, s)
            for s in ("identity", "workspaces", "connectors", "conversations")
        ]
        return sum(counts) == 0

    await wait_until(all_published, timeout=60)

    async def doomed_gone() -> bool:
        for handle in doomed_handles:
            if (await api.get(f"/api/v1/public/workspaces/{handle}")).status_code != 404:
                return False
        return True

    async def newcomers_known_to_conversations() -> bool:
        for handle in new_handles:
            response = await api.post(
                f"/api/v1/public/workspaces/{handle}/conversations", json={"visitor_name": "V"}
            )
            if response.status_code != 201:
                return False
        return True

    await wait_until(doomed_gone, timeout=60)
    await wait_until(newcomers_known_to_conversations, timeout=60)

    async with db.connect() as conn:
        # Each user.deleted took effect once: one workspace.deleted per doomed workspace.
        deleted = (
            await conn.execute(
                text(
                    "SELECT envelope->'payload'->>'handle' AS handle, count(*) AS n "
                    "FROM workspaces.outbox WHERE event_type = 'workspace.deleted' "
                    "AND envelope->'payload'->>'handle' = ANY(:handles) GROUP BY 1"
                ),
                {"handles": doomed_handles},
            )
        ).all()
        assert {r.handle: r.n for r in deleted} == dict.fromkeys(doomed_handles, 1)
        # Every event consumed during recovery was recorded once per consumer.
        duplicates = await conn.scalar(
            text(
                "SELECT count(*) FROM (SELECT consumer, event_id FROM workspaces.inbox "
                "GROUP BY 1, 2 HAVING count(*) > 1) d"
            )
        )
        assert duplicates == 0
        user_deleted_seen = await conn.scalar(
            text(
                "SELECT count(*) FROM workspaces.inbox i JOIN identity.outbox o "
                "ON o.event_id = i.event_id WHERE o.event_type = 'user.deleted' "
                "AND o.aggregate_id = ANY(:ids)"
            ),
            {"ids": [str(o["id"]) for o in doomed]},
        )
        assert user_deleted_seen == len(doomed)
