import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.events import Envelope, WorkspaceDeletedV1, WorkspaceUpdatedV1
from shared.testing import wait_until

from .support import BASE, calendly_config, create


def _snapshot(me, timezone: str) -> dict:
    return {
        "workspace_id": me.workspace_id,
        "owner_id": me.user_id,
        "handle": f"ws-{me.workspace_id.hex[:10]}",
        "name": "Studio",
        "timezone": timezone,
    }


async def _timezone(query, workspace_id) -> str | None:
    rows = await query(
        "SELECT timezone FROM connectors.workspaces WHERE workspace_id = :w", w=workspace_id
    )
    return rows[0][0] if rows else None


async def _replacement(me, publish, query) -> uuid.UUID:
    """A new workspace of the same owner (in Asia/Tokyo), projected while the old one lives."""
    from shared.events import WorkspaceCreatedV1

    replacement = uuid.uuid4()
    handle = f"new-{replacement.hex[:8]}"
    await publish(
        WorkspaceCreatedV1(
            **(_snapshot(me, "Asia/Tokyo") | {"workspace_id": replacement, "handle": handle}),
            tone="calm",
        )
    )

    async def projected() -> bool:
        return await _timezone(query, replacement) == "Asia/Tokyo"

    await wait_until(projected)
    return replacement


async def test_workspace_created_event_lets_its_owner_create_connectors(client, owner) -> None:
    me = await owner("Europe/Madrid")
    response = await client.post(
        f"{BASE}/", json={"name": "x", "config": calendly_config()}, headers=me.headers
    )
    assert response.status_code == 201


async def test_workspace_updated_event_changes_the_projected_timezone(
    client, owner, publish, query
) -> None:
    me = await owner("Europe/Madrid")
    await publish(WorkspaceUpdatedV1(**_snapshot(me, "Asia/Tokyo"), tone="calm"))

    async def updated() -> bool:
        return await _timezone(query, me.workspace_id) == "Asia/Tokyo"

    await wait_until(updated)


async def test_a_stale_update_does_not_overwrite_a_newer_one(
    client, app, owner, publish, query
) -> None:
    me = await owner("Europe/Madrid")
    newer = Envelope.wrap(
        WorkspaceUpdatedV1(**_snapshot(me, "Asia/Tokyo"), tone="calm"), producer="workspaces"
    )
    older = newer.model_copy(
        update={
            "event_id": uuid.uuid4(),
            "occurred_at": newer.occurred_at - timedelta(minutes=5),
            "payload": newer.payload | {"timezone": "Africa/Cairo"},
        }
    )
    await app.state.runtime.bus.publish(newer)

    async def tokyo() -> bool:
        return await _timezone(query, me.workspace_id) == "Asia/Tokyo"

    await wait_until(tokyo)
    await app.state.runtime.bus.publish(older)

    async def consumed() -> bool:
        rows = await query("SELECT 1 FROM connectors.inbox WHERE event_id = :e", e=older.event_id)
        return bool(rows)

    await wait_until(consumed)
    assert await _timezone(query, me.workspace_id) == "Asia/Tokyo"


async def test_workspace_deleted_removes_its_connectors_and_announces_the_active_one(
    client, owner, publish, query, events
) -> None:
    me = await owner()
    active = await create(client, me.headers, calendly_config(), name="active")
    other = await create(client, me.headers, calendly_config(), name="other")
    await client.post(f"{BASE}/{active['id']}/activate", headers=me.headers)
    bystander = await owner()
    theirs = await create(client, bystander.headers, calendly_config())

    await publish(WorkspaceDeletedV1(**_snapshot(me, me.timezone)))

    async def gone() -> bool:
        rows = await query(
            "SELECT count(*) FROM connectors.connectors WHERE workspace_id = :w",
            w=me.workspace_id,
        )
        return rows[0][0] == 0

    await wait_until(gone)
    await events.wait_for("connector.deactivated", connector_id=active["id"])
    assert not events.of("connector.deactivated", connector_id=other["id"])
    assert (await client.get(f"{BASE}/", headers=me.headers)).json()["count"] == 0
    response = await client.post(
        f"{BASE}/", json={"name": "x", "config": calendly_config()}, headers=me.headers
    )
    assert response.status_code == 409
    # Another workspace is untouched.
    assert (
        await client.get(f"{BASE}/{theirs['id']}", headers=bystander.headers)
    ).status_code == 200


async def test_a_late_workspace_event_cannot_bring_a_deleted_workspace_back(
    client, app, owner, publish, query
) -> None:
    me = await owner()
    await publish(WorkspaceDeletedV1(**_snapshot(me, me.timezone)))

    async def tombstoned() -> bool:
        rows = await query(
            "SELECT deleted_at FROM connectors.workspaces WHERE workspace_id = :w",
            w=me.workspace_id,
        )
        return bool(rows and rows[0][0])

    await wait_until(tombstoned)
    late = Envelope.wrap(
        WorkspaceUpdatedV1(**_snapshot(me, "Asia/Tokyo"), tone="calm"), producer="workspaces"
    ).model_copy(update={"occurred_at": datetime.now(UTC) + timedelta(minutes=1)})
    await app.state.runtime.bus.publish(late)

    async def consumed() -> bool:
        return bool(
            await query("SELECT 1 FROM connectors.inbox WHERE event_id = :e", e=late.event_id)
        )

    await wait_until(consumed)
    response = await client.post(
        f"{BASE}/", json={"name": "x", "config": calendly_config()}, headers=me.headers
    )
    assert response.status_code == 409


async def test_a_redelivered_workspace_event_is_applied_once(client, app, owner, query) -> None:
    me = await owner("Europe/Madrid")
    envelope = Envelope.wrap(
        WorkspaceUpdatedV1(**_snapshot(me, "Asia/Tokyo"), tone="calm"), producer="workspaces"
    )
    await app.state.runtime.bus.publish(envelope)
    await app.state.runtime.bus.publish(envelope)

    async def claimed() -> bool:
        rows = await query(
            "SELECT count(*) FROM connectors.inbox WHERE event_id = :e", e=envelope.event_id
        )
        return rows[0][0] >= 1

    await wait_until(claimed)
    rows = await query(
        "SELECT count(*) FROM connectors.inbox WHERE event_id = :e", e=envelope.event_id
    )
    assert rows[0][0] == 1
    assert await _timezone(query, me.workspace_id) == "Asia/Tokyo"


async def test_a_new_workspace_arriving_before_the_old_ones_deletion_is_projected(
    client, owner, publish, query
) -> None:
    me = await owner("Europe/Madrid")
    replacement = await _replacement(me, publish, query)
    await publish(WorkspaceDeletedV1(**_snapshot(me, me.timezone)))

    async def old_gone() -> bool:
        rows = await query(
            "SELECT deleted_at FROM connectors.workspaces WHERE workspace_id = :w",
            w=me.workspace_id,
        )
        return bool(rows[0][0])

    await wait_until(old_gone)
    response = await client.post(
        f"{BASE}/", json={"name": "x", "config": calendly_config()}, headers=me.headers
    )
    assert response.status_code == 201
    assert response.json()["workspace_id"] == str(replacement)


async def test_availability_follows_a_timezone_change_of_the_workspace(
    client, owner, publish, query
) -> None:
    from datetime import date

    from .support import create_active, square_config

    me = await owner("Asia/Tokyo")
    await create_active(client, me.headers, square_config())
    start = (date.today() + timedelta(days=2)).isoformat()
    params = {"event_type": "VAR30", "start": start, "end": start}

    before = await client.get(f"{BASE}/active/availability", params=params, headers=me.headers)
    assert before.json()["timezone"] == "Asia/Tokyo"
    assert datetime.fromisoformat(before.json()["data"][0]["start"]).utcoffset() == timedelta(
        hours=9
    )

    await publish(WorkspaceUpdatedV1(**_snapshot(me, "Europe/London"), tone="calm"))

    async def moved() -> bool:
        return await _timezone(query, me.workspace_id) == "Europe/London"

    await wait_until(moved)
    after = await client.get(f"{BASE}/active/availability", params=params, headers=me.headers)
    assert after.json()["timezone"] == "Europe/London"
    (slot,) = after.json()["data"]
    local = datetime.fromisoformat(slot["start"])
    assert local.astimezone(UTC).strftime("%H:%M") == "17:00"  # what the fake offers
    assert local.utcoffset() == local.astimezone(ZoneInfo("Europe/London")).utcoffset()


async def test_the_active_connector_is_the_newest_workspaces_not_an_older_ones(
    client, owner, publish, query
) -> None:
    """While an owner's old workspace waits for its deletion, the calendar the agent reads is
    the new workspace's: none until one is activated there."""
    from .calendar_support import ACTIVE, builtin_config
    from .support import create_active

    me = await owner("Europe/Madrid")
    await create_active(client, me.headers, builtin_config())
    assert (await client.get(f"{ACTIVE}/hours", headers=me.headers)).status_code == 200
    await _replacement(me, publish, query)
    response = await client.get(f"{ACTIVE}/hours", headers=me.headers)
    assert response.status_code == 404, response.text
    await create_active(client, me.headers, builtin_config())
    response = await client.get(f"{ACTIVE}/hours", headers=me.headers)
    assert response.status_code == 200, response.text
    assert response.json()["timezone"] == "Asia/Tokyo"
