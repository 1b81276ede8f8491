import asyncio
import uuid

import httpx
from cryptography.fernet import Fernet

from .conftest import KEY_A
from .fakes import CALENDLY_TOKEN, SQUARE_TOKEN
from .support import BASE, agendapro_config, calendly_config, create, square_config


async def test_each_provider_config_is_accepted_and_answered_masked(client, owner) -> None:
    me = await owner()
    for config, secret_field, secret in (
        (calendly_config(event_types=["ET30"]), "access_token", CALENDLY_TOKEN),
        (square_config(), "access_token", SQUARE_TOKEN),
        (agendapro_config(), "api_key", "apk_live_abcdefgh1234"),
    ):
        body = await create(client, me.headers, config, name=config["provider"])
        assert body["provider"] == config["provider"]
        assert body["config"][secret_field] == "****" + secret[-4:]
        assert secret not in str(body)
        assert body["is_active"] is False
        assert body["status"] == "unchecked"
        assert body["workspace_id"] == str(me.workspace_id)


async def test_missing_or_wrong_config_field_is_a_422_naming_the_field(client, owner) -> None:
    me = await owner()
    cases = [
        ({"provider": "square", "access_token": SQUARE_TOKEN}, "location_id"),
        (square_config(environment="staging"), "environment"),
        ({"provider": "calendly"}, "access_token"),
        (calendly_config(access_token="short"), "access_token"),
        (agendapro_config(location_id="not-a-number"), "location_id"),
        ({"provider": "acuity", "access_token": "x" * 20}, "provider"),
        (calendly_config(base_url="http://evil.example"), "base_url"),
    ]
    for config, field in cases:
        response = await client.post(
            f"{BASE}/", json={"name": "x", "config": config}, headers=me.headers
        )
        assert response.status_code == 422, (config, response.text)
        errors = [".".join(map(str, e["loc"])) + " " + e["msg"] for e in response.json()["detail"]]
        assert any(field in error for error in errors), (field, errors)


async def test_a_422_never_echoes_the_submitted_token(client, owner) -> None:
    me = await owner()
    secret = "calendly-secret-that-must-not-echo"
    response = await client.post(
        f"{BASE}/",
        json={"name": "x", "config": {"provider": "calendly", "access_token": secret, "oops": 1}},
        headers=me.headers,
    )
    assert response.status_code == 422
    assert secret not in response.text


async def test_credentials_are_encrypted_at_rest_with_the_newest_key(client, owner, query) -> None:
    me = await owner()
    body = await create(client, me.headers, square_config())
    rows = await query(
        "SELECT config_encrypted FROM connectors.connectors WHERE id = :id", id=body["id"]
    )
    stored = rows[0][0]
    assert SQUARE_TOKEN not in stored and "LOC1" not in stored
    assert SQUARE_TOKEN in Fernet(KEY_A.encode()).decrypt(stored.encode()).decode()


async def test_user_without_workspace_gets_409_on_create_and_404_elsewhere(client, as_user) -> None:
    headers = as_user(uuid.uuid4())
    response = await client.post(
        f"{BASE}/", json={"name": "x", "config": calendly_config()}, headers=headers
    )
    assert response.status_code == 409
    assert "workspace" in response.json()["detail"]
    assert (await client.get(f"{BASE}/{uuid.uuid4()}", headers=headers)).status_code == 404
    assert (await client.get(f"{BASE}/active", headers=headers)).status_code == 404
    listed = await client.get(f"{BASE}/", headers=headers)
    assert listed.json() == {"data": [], "count": 0}


async def test_anonymous_callers_cannot_manage_connectors(client, as_user) -> None:
    response = await client.get(f"{BASE}/", headers=as_user(None))
    assert response.status_code == 401


async def test_list_get_patch_delete_own_connectors(client, owner) -> None:
    me = await owner()
    first = await create(client, me.headers, calendly_config(), name="first")
    second = await create(client, me.headers, square_config(), name="second")

    page = (await client.get(f"{BASE}/?skip=0&limit=1", headers=me.headers)).json()
    assert page["count"] == 2 and [c["id"] for c in page["data"]] == [first["id"]]

    got = await client.get(f"{BASE}/{second['id']}", headers=me.headers)
    assert got.status_code == 200 and got.json()["name"] == "second"

    patched = await client.patch(
        f"{BASE}/{second['id']}",
        json={"name": "renamed", "config": {"location_id": "LOC2"}},
        headers=me.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "renamed"
    assert patched.json()["config"]["location_id"] == "LOC2"
    # The token was not re-sent and survives the partial update.
    assert patched.json()["config"]["access_token"] == "****" + SQUARE_TOKEN[-4:]

    bad = await client.patch(
        f"{BASE}/{second['id']}", json={"config": {"environment": "moon"}}, headers=me.headers
    )
    assert bad.status_code == 422 and "environment" in bad.json()["detail"]
    switch = await client.patch(
        f"{BASE}/{second['id']}", json={"config": {"provider": "calendly"}}, headers=me.headers
    )
    assert switch.status_code == 422

    assert (await client.delete(f"{BASE}/{first['id']}", headers=me.headers)).status_code == 204
    assert (await client.get(f"{BASE}/{first['id']}", headers=me.headers)).status_code == 404


async def test_another_users_connector_is_a_404_for_every_verb(client, owner) -> None:
    me, other = await owner(), await owner()
    theirs = await create(client, other.headers, calendly_config())
    url = f"{BASE}/{theirs['id']}"
    calls = [
        client.get(url, headers=me.headers),
        client.patch(url, json={"name": "mine now"}, headers=me.headers),
        client.post(f"{url}/activate", headers=me.headers),
        client.post(f"{url}/deactivate", headers=me.headers),
        client.post(f"{url}/check", headers=me.headers),
        client.delete(url, headers=me.headers),
    ]
    for response in await asyncio.gather(*calls):
        assert response.status_code == 404, response.request.method
    still = await client.get(url, headers=other.headers)
    assert still.status_code == 200 and still.json()["name"] == "Main"


async def test_activation_swaps_the_active_connector_and_emits_both_events(
    client: httpx.AsyncClient, owner, events
) -> None:
    me = await owner()
    a = await create(client, me.headers, calendly_config(), name="a")
    b = await create(client, me.headers, square_config(), name="b")

    assert (await client.post(f"{BASE}/{a['id']}/activate", headers=me.headers)).json()["is_active"]
    await events.wait_for("connector.activated", connector_id=a["id"])

    response = await client.post(f"{BASE}/{b['id']}/activate", headers=me.headers)
    assert response.status_code == 200 and response.json()["is_active"] is True
    await events.wait_for("connector.deactivated", connector_id=a["id"])
    activated = await events.wait_for("connector.activated", connector_id=b["id"])
    assert activated[0]["payload"] == {
        "connector_id": b["id"],
        "workspace_id": str(me.workspace_id),
        "provider": "square",
        "name": "b",
    }
    # Credentials never travel in events.
    assert SQUARE_TOKEN not in str(events.messages)

    active = (await client.get(f"{BASE}/active", headers=me.headers)).json()
    assert active["id"] == b["id"]
    assert (await client.get(f"{BASE}/{a['id']}", headers=me.headers)).json()["is_active"] is False

    # Activating again is a no-op: no second event.
    await client.post(f"{BASE}/{b['id']}/activate", headers=me.headers)
    response = await client.post(f"{BASE}/{b['id']}/deactivate", headers=me.headers)
    assert response.json()["is_active"] is False
    await events.wait_for("connector.deactivated", connector_id=b["id"])
    assert len(events.of("connector.activated", connector_id=b["id"])) == 1
    assert (await client.get(f"{BASE}/active", headers=me.headers)).status_code == 404


async def test_deleting_the_active_connector_emits_deactivated(client, owner, events) -> None:
    me = await owner()
    a = await create(client, me.headers, calendly_config())
    await client.post(f"{BASE}/{a['id']}/activate", headers=me.headers)
    assert (await client.delete(f"{BASE}/{a['id']}", headers=me.headers)).status_code == 204
    await events.wait_for("connector.deactivated", connector_id=a["id"])


async def test_twenty_concurrent_activations_leave_exactly_one_active(client, owner, query) -> None:
    me = await owner()
    ids = [
        (await create(client, me.headers, calendly_config(), name=f"c{i}"))["id"] for i in range(20)
    ]
    responses = await asyncio.gather(
        *(client.post(f"{BASE}/{i}/activate", headers=me.headers) for i in ids)
    )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    rows = await query(
        "SELECT id FROM connectors.connectors WHERE workspace_id = :w AND is_active",
        w=me.workspace_id,
    )
    assert len(rows) == 1
    active = (await client.get(f"{BASE}/active", headers=me.headers)).json()
    assert active["id"] == str(rows[0][0])


async def test_database_refuses_a_second_active_connector(client, owner, query) -> None:
    me = await owner()
    a = await create(client, me.headers, calendly_config())
    b = await create(client, me.headers, calendly_config())
    await query("UPDATE connectors.connectors SET is_active = true WHERE id = :id", id=a["id"])
    try:
        await query("UPDATE connectors.connectors SET is_active = true WHERE id = :id", id=b["id"])
    except Exception as exc:
        assert "ix_connectors_one_active_per_workspace" in str(exc)
    else:
        raise AssertionError("the partial unique index let two active connectors in")


async def test_credentials_never_reach_the_logs(client, owner, caplog) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    me = await owner()
    secret = "calendly-token-that-must-stay-secret"
    connector = await create(client, me.headers, calendly_config(access_token=secret))
    await client.post(f"{BASE}/{connector['id']}/check", headers=me.headers)  # refused: 424
    await client.patch(
        f"{BASE}/{connector['id']}",
        json={"config": {"access_token": secret + "-v2"}},
        headers=me.headers,
    )
    await client.post(f"{BASE}/{connector['id']}/activate", headers=me.headers)
    await client.get(f"{BASE}/active/event-types", headers=me.headers)
    assert caplog.records
    assert secret not in caplog.text
    assert secret[-12:] not in caplog.text
