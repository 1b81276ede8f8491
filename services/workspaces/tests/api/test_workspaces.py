"""Workspace routes: creation rules, one per owner, ownership, pagination and search."""

import asyncio
import uuid

import pytest


def unique_handle(prefix: str = "ws") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


URL = "/api/v1/workspaces/"


def body(**fields: object) -> dict[str, object]:
    return {"handle": unique_handle(), "name": "Acme Consulting", "timezone": "UTC"} | fields


async def test_create_returns_the_workspace_owned_by_the_caller(client, as_user) -> None:
    user = uuid.uuid4()
    data = body(tone="professional", timezone="America/Santiago")
    response = await client.post(URL, json=data, headers=as_user(user))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["owner_id"] == str(user)
    assert created["handle"] == data["handle"]
    assert created["tone"] == "professional"
    assert created["timezone"] == "America/Santiago"
    uuid.UUID(created["id"])
    assert created["created_at"].endswith("Z") or "+00:00" in created["created_at"]

    mine = await client.get(URL + "me", headers=as_user(user))
    assert mine.status_code == 200
    assert mine.json() == created


async def test_tone_defaults_to_friendly(client, as_user) -> None:
    response = await client.post(URL, json=body(), headers=as_user(uuid.uuid4()))
    assert response.json()["tone"] == "friendly"


@pytest.mark.parametrize("tone", ["friendly", "professional", "casual", "formal"])
async def test_every_documented_tone_is_accepted(client, as_user, tone) -> None:
    response = await client.post(URL, json=body(tone=tone), headers=as_user(uuid.uuid4()))
    assert response.status_code == 201, response.text


async def test_unknown_tone_is_refused_naming_the_allowed_ones(client, as_user) -> None:
    response = await client.post(URL, json=body(tone="sarcastic"), headers=as_user(uuid.uuid4()))
    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    assert all(t in message for t in ("friendly", "professional", "casual", "formal"))


@pytest.mark.parametrize("tz", ["UTC", "Europe/Madrid", "America/Argentina/Buenos_Aires"])
async def test_iana_timezones_are_accepted(client, as_user, tz) -> None:
    response = await client.post(URL, json=body(timezone=tz), headers=as_user(uuid.uuid4()))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "tz", ["Mars/Olympus", "utc+3", "", "localtime", "../../etc/passwd", "Europe/"]
)
async def test_unknown_timezones_are_refused(client, as_user, tz) -> None:
    response = await client.post(URL, json=body(timezone=tz), headers=as_user(uuid.uuid4()))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "timezone"]
    assert "timezone" in response.json()["detail"][0]["msg"]


async def test_unknown_fields_are_refused(client, as_user) -> None:
    response = await client.post(
        URL, json=body(owner_id=str(uuid.uuid4())), headers=as_user(uuid.uuid4())
    )
    assert response.status_code == 422


async def test_a_second_workspace_for_the_same_owner_is_a_conflict(client, as_user) -> None:
    headers = as_user(uuid.uuid4())
    assert (await client.post(URL, json=body(), headers=headers)).status_code == 201
    response = await client.post(URL, json=body(), headers=headers)
    assert response.status_code == 409
    assert "already have a workspace" in response.json()["detail"]


async def test_a_taken_handle_is_a_conflict(client, as_user, new_workspace) -> None:
    _, existing = await new_workspace()
    response = await client.post(
        URL, json=body(handle=existing["handle"]), headers=as_user(uuid.uuid4())
    )
    assert response.status_code == 409
    assert existing["handle"] in response.json()["detail"]


async def test_concurrent_creates_for_one_handle_give_one_201_and_the_rest_409(
    client, as_user
) -> None:
    handle = unique_handle("race")
    responses = await asyncio.gather(
        *(
            client.post(URL, json=body(handle=handle), headers=as_user(uuid.uuid4()))
            for _ in range(20)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19, [r.text for r in responses if r.status_code >= 500]
    assert all("taken" in r.json()["detail"] for r in responses if r.status_code == 409)


async def test_concurrent_creates_by_one_owner_give_one_workspace(client, as_user) -> None:
    headers = as_user(uuid.uuid4())
    responses = await asyncio.gather(
        *(client.post(URL, json=body(), headers=headers) for _ in range(10))
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 9
    listed = await client.get(URL, headers=headers)
    assert listed.json()["count"] == 1


async def test_owner_reads_updates_and_deletes_their_workspace(client, new_workspace) -> None:
    headers, ws = await new_workspace()
    url = f"{URL}{ws['id']}"
    assert (await client.get(url, headers=headers)).json() == ws

    new_handle = unique_handle("renamed")
    patch = {"name": "Acme Two", "handle": new_handle, "tone": "formal", "timezone": "Asia/Tokyo"}
    updated = await client.patch(url, json=patch, headers=headers)
    assert updated.status_code == 200, updated.text
    assert {k: updated.json()[k] for k in patch} == patch
    assert updated.json()["updated_at"] > ws["updated_at"]

    assert (await client.delete(url, headers=headers)).status_code == 204
    assert (await client.get(url, headers=headers)).status_code == 404
    assert (await client.get(URL + "me", headers=headers)).status_code == 404


async def test_patch_validates_like_create(client, new_workspace) -> None:
    headers, ws = await new_workspace()
    url = f"{URL}{ws['id']}"
    for patch in ({"handle": "Bad_Handle"}, {"timezone": "Nowhere/City"}, {"tone": "rude"}):
        response = await client.patch(url, json=patch, headers=headers)
        assert response.status_code == 422, patch
    response = await client.patch(url, json={"name": None}, headers=headers)
    assert response.status_code == 422
    assert "cannot be null: name" in response.json()["detail"][0]["msg"]


async def test_changing_a_handle_releases_the_old_one(client, as_user, new_workspace) -> None:
    headers, ws = await new_workspace()
    old = ws["handle"]
    response = await client.patch(
        f"{URL}{ws['id']}", json={"handle": unique_handle()}, headers=headers
    )
    assert response.status_code == 200
    taken_again = await client.post(URL, json=body(handle=old), headers=as_user(uuid.uuid4()))
    assert taken_again.status_code == 201, taken_again.text


async def test_changing_to_a_taken_handle_is_a_conflict(client, new_workspace) -> None:
    _, other = await new_workspace()
    headers, ws = await new_workspace()
    response = await client.patch(
        f"{URL}{ws['id']}", json={"handle": other["handle"]}, headers=headers
    )
    assert response.status_code == 409
    assert (await client.get(f"{URL}{ws['id']}", headers=headers)).json()["handle"] == ws["handle"]


async def test_another_users_workspace_is_not_found_for_every_verb(
    client, as_user, new_workspace
) -> None:
    owner_headers, ws = await new_workspace()
    stranger = as_user(uuid.uuid4())
    url = f"{URL}{ws['id']}"
    assert (await client.get(url, headers=stranger)).status_code == 404
    assert (await client.patch(url, json={"name": "Mine"}, headers=stranger)).status_code == 404
    assert (await client.delete(url, headers=stranger)).status_code == 404
    # Nothing changed for the owner.
    assert (await client.get(url, headers=owner_headers)).json() == ws


async def test_unknown_workspace_id_is_not_found(client, as_user) -> None:
    response = await client.get(f"{URL}{uuid.uuid4()}", headers=as_user(uuid.uuid4()))
    assert response.status_code == 404
    assert response.json() == {"detail": "Workspace not found"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", ""),
        ("POST", ""),
        ("GET", "me"),
        ("GET", "{id}"),
        ("PATCH", "{id}"),
        ("DELETE", "{id}"),
    ],
)
async def test_anonymous_callers_are_not_authenticated(
    client, as_user, new_workspace, method, path
) -> None:
    _, ws = await new_workspace()
    response = await client.request(
        method,
        URL + path.format(id=ws["id"]),
        json=body() if method in ("POST", "PATCH") else None,
        headers=as_user(None),
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


async def test_a_normal_user_lists_only_their_own_workspace(client, new_workspace) -> None:
    await new_workspace()
    headers, ws = await new_workspace()
    response = await client.get(URL, headers=headers)
    assert response.json() == {"data": [ws], "count": 1}


async def test_superuser_lists_all_workspaces_paginated_and_searchable(
    client, as_user, new_workspace
) -> None:
    tag = uuid.uuid4().hex[:8]
    created = [(await new_workspace(handle=f"find-{tag}-{i}"))[1] for i in range(5)]
    await new_workspace(handle=f"other-{uuid.uuid4().hex[:8]}")
    admin = as_user(uuid.uuid4(), is_superuser=True)

    everything = await client.get(URL, params={"limit": 500}, headers=admin)
    assert everything.json()["count"] >= 6

    found = await client.get(URL, params={"q": tag}, headers=admin)
    assert found.json()["count"] == 5
    assert [w["id"] for w in found.json()["data"]] == [w["id"] for w in created]

    page = await client.get(URL, params={"q": tag, "skip": 1, "limit": 2}, headers=admin)
    assert page.json()["count"] == 5
    assert [w["id"] for w in page.json()["data"]] == [w["id"] for w in created[1:3]]

    # The search is literal: "_" and "%" are not wildcards.
    assert (await client.get(URL, params={"q": "%"}, headers=admin)).json()["count"] == 0
    assert (await client.get(URL, params={"q": "find_"}, headers=admin)).json()["count"] == 0


async def test_superuser_can_read_any_workspace(client, as_user, new_workspace) -> None:
    _, ws = await new_workspace()
    admin = as_user(uuid.uuid4(), is_superuser=True)
    assert (await client.get(f"{URL}{ws['id']}", headers=admin)).json() == ws


@pytest.mark.parametrize("params", [{"skip": -1}, {"limit": 0}, {"limit": 501}])
async def test_bad_pagination_is_refused(client, as_user, params) -> None:
    response = await client.get(URL, params=params, headers=as_user(uuid.uuid4()))
    assert response.status_code == 422


async def test_workspace_rows_satisfy_database_invariants(client, runtime) -> None:
    """The database itself refuses what the API refuses, even from raw SQL."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    cases = [
        ("Bad Handle", "friendly"),
        ("ab", "friendly"),
        ("-edge", "friendly"),
        (unique_handle(), "sarcastic"),
    ]
    for handle, tone in cases:
        with pytest.raises(IntegrityError):
            async with runtime.engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO workspaces.workspaces (id, owner_id, handle, name, tone, "
                        "timezone) VALUES (gen_random_uuid(), gen_random_uuid(), :h, 'x', :t, "
                        "'UTC')"
                    ),
                    {"h": handle, "t": tone},
                )


async def test_collections_answer_without_a_trailing_slash(client, as_user) -> None:
    """The gateway forwards paths unchanged; a redirect would leak the internal address."""
    headers = as_user(uuid.uuid4())
    created = await client.post(URL.rstrip("/"), json=body(), headers=headers)
    assert created.status_code == 201
    listed = await client.get(URL.rstrip("/"), headers=headers)
    assert listed.status_code == 200
    assert listed.json()["count"] == 1
    services = "/api/v1/workspace-services"
    added = await client.post(services, json={"name": "x", "duration_minutes": 5}, headers=headers)
    assert added.status_code == 201
    assert (await client.get(services, headers=headers)).json()["count"] == 1
