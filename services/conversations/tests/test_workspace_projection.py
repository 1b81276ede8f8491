"""The local projection of workspaces, fed by `workspace.*` events on the real broker."""

from datetime import timedelta
from uuid import uuid4

from shared.events import Envelope, WorkspaceDeletedV1, WorkspaceUpdatedV1
from shared.testing import wait_until

from .fakes import WHATSAPP_TOKEN


async def projection(query, workspace_id):
    return await query(
        "SELECT owner_id, handle, timezone, deleted FROM conversations.workspaces WHERE id = :id",
        id=workspace_id,
    )


def snapshot(owner, **fields):
    values = {
        "workspace_id": owner.workspace_id,
        "owner_id": owner.owner_id,
        "handle": owner.handle,
        "name": "Acme",
        "tone": "friendly",
        "timezone": "UTC",
    } | fields
    return values


async def test_created_event_makes_the_owner_known_to_the_api(client, new_owner) -> None:
    owner = await new_owner(timezone="America/Santiago")
    response = await client.get("/api/v1/conversations/", headers=owner.headers)
    assert response.status_code == 200
    assert response.json() == {"data": [], "count": 0}


async def test_updated_event_changes_handle_and_timezone_but_an_older_one_does_not(
    client, bus, query, new_owner, rows_when
) -> None:
    owner = await new_owner()
    newer = Envelope.wrap(
        WorkspaceUpdatedV1(**snapshot(owner, handle="acme-new", timezone="Europe/Madrid")),
        producer="workspaces",
    )
    older = Envelope.wrap(
        WorkspaceUpdatedV1(**snapshot(owner, handle="acme-old")), producer="workspaces"
    ).model_copy(update={"occurred_at": newer.occurred_at - timedelta(seconds=5)})
    await bus.publish(newer, mandatory=True)
    await bus.publish(older, mandatory=True)
    await wait_until(
        lambda: rows_when(
            query(
                "SELECT 1 FROM conversations.inbox WHERE event_id = ANY(:ids)",
                ids=[newer.event_id, older.event_id],
            ),
            lambda r: len(r) == 2,
        )
    )
    [row] = await projection(query, owner.workspace_id)
    assert (row.handle, row.timezone, row.deleted) == ("acme-new", "Europe/Madrid", False)


async def test_deleted_event_removes_conversations_messages_and_channel_accounts(
    client, query, new_owner, publish, inbound
) -> None:
    owner = await new_owner()
    account = f"pn-{uuid4().hex}"
    created = await client.post(
        "/api/v1/channel-accounts/",
        json={
            "channel": "whatsapp",
            "account_id": account,
            "credentials": {"access_token": WHATSAPP_TOKEN},
        },
        headers=owner.headers,
    )
    assert created.status_code == 201
    await publish(inbound(account_id=account, visitor_id="to-be-deleted"))
    await wait_until(
        lambda: query(
            "SELECT 1 FROM conversations.messages WHERE workspace_id = :ws", ws=owner.workspace_id
        )
    )

    await publish(
        WorkspaceDeletedV1(
            workspace_id=owner.workspace_id,
            owner_id=owner.owner_id,
            handle=owner.handle,
            name="Acme",
            timezone="UTC",
        ),
        producer="workspaces",
    )
    await wait_until(
        lambda: rows_deleted(query, owner.workspace_id),
    )
    [row] = await projection(query, owner.workspace_id)
    assert row.deleted is True
    # The owner has no workspace any more, and a late message to the old account is unrouted.
    response = await client.get("/api/v1/conversations/", headers=owner.headers)
    assert response.status_code == 404
    late = await publish(inbound(account_id=account, visitor_id="to-be-deleted"))
    rows = await wait_until(
        lambda: query(
            "SELECT reason FROM conversations.unrouted_messages WHERE event_id = :id",
            id=late.event_id,
        )
    )
    assert rows[0].reason == "unknown_account"


async def rows_deleted(query, workspace_id) -> bool:
    counts = await query(
        "SELECT (SELECT count(*) FROM conversations.messages WHERE workspace_id = :ws) "
        "+ (SELECT count(*) FROM conversations.conversations WHERE workspace_id = :ws) "
        "+ (SELECT count(*) FROM conversations.channel_accounts WHERE workspace_id = :ws) "
        "AS n, (SELECT deleted FROM conversations.workspaces WHERE id = :ws) AS deleted",
        ws=workspace_id,
    )
    return counts[0].n == 0 and counts[0].deleted


async def test_late_update_does_not_revive_a_deleted_workspace(
    client, bus, query, new_owner, publish, rows_when
) -> None:
    owner = await new_owner()
    deleted = await publish(
        WorkspaceDeletedV1(
            workspace_id=owner.workspace_id,
            owner_id=owner.owner_id,
            handle=owner.handle,
            name="Acme",
            timezone="UTC",
        ),
        producer="workspaces",
    )
    await wait_until(lambda: rows_deleted(query, owner.workspace_id))
    late = Envelope.wrap(
        WorkspaceUpdatedV1(**snapshot(owner, handle="zombie")), producer="workspaces"
    ).model_copy(update={"occurred_at": deleted.occurred_at + timedelta(seconds=1)})
    await bus.publish(late, mandatory=True)
    await wait_until(
        lambda: query("SELECT 1 FROM conversations.inbox WHERE event_id = :id", id=late.event_id)
    )
    [row] = await projection(query, owner.workspace_id)
    assert (row.handle, row.deleted) == (owner.handle, True)
