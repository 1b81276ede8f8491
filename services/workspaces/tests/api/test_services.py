"""Workspace services: CRUD inside the caller's own workspace, order, filters, validation."""

import asyncio
import uuid
from decimal import Decimal

import pytest

URL = "/api/v1/workspace-services/"


def service(**fields: object) -> dict[str, object]:
    return {"name": "Consultation", "duration_minutes": 30} | fields


@pytest.fixture
async def owner(new_workspace):
    headers, _ = await new_workspace()
    return headers


async def add(client, headers, **fields) -> dict:
    response = await client.post(URL, json=service(**fields), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_read_update_delete_a_service(client, new_workspace) -> None:
    headers, ws = await new_workspace()
    created = await add(
        client,
        headers,
        name="Haircut",
        description="Wash and cut",
        duration_minutes=45,
        price="25.5",
        currency="EUR",
    )
    assert created["workspace_id"] == ws["id"]
    assert created["price"] == "25.50"
    assert created["currency"] == "EUR"
    assert created["is_active"] is True
    assert created["position"] == 0

    url = f"{URL}{created['id']}"
    assert (await client.get(url, headers=headers)).json() == created

    updated = await client.patch(
        url, json={"name": "Long haircut", "duration_minutes": 60}, headers=headers
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["name"] == "Long haircut"
    assert updated.json()["duration_minutes"] == 60
    assert updated.json()["price"] == "25.50"

    assert (await client.delete(url, headers=headers)).status_code == 204
    assert (await client.get(url, headers=headers)).status_code == 404


async def test_price_is_exact_decimal(client, owner) -> None:
    created = await add(client, owner, price="0.10", currency="USD")
    assert Decimal(created["price"]) == Decimal("0.10")
    big = await add(client, owner, price="9999999999.99", currency="USD")
    assert big["price"] == "9999999999.99"


async def test_a_free_service_has_no_price_and_no_currency(client, owner) -> None:
    created = await add(client, owner)
    assert created["price"] is None
    assert created["currency"] is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"duration_minutes": 0}, "greater than 0"),
        ({"duration_minutes": -5}, "greater than 0"),
        ({"price": "-1", "currency": "USD"}, "greater than or equal to 0"),
        ({"price": "10.005", "currency": "USD"}, "decimal places"),
        ({"price": "10"}, "currency (ISO 4217, such as 'USD') is required"),
        ({"currency": "USD"}, "only be set together with a price"),
        ({"price": "10", "currency": "usd"}, "three uppercase letters"),
        ({"price": "10", "currency": "DOLLARS"}, "three uppercase letters"),
        ({"price": "10", "currency": "ABC"}, "Unknown currency 'ABC'"),
        ({"price": "10", "currency": "XTS"}, "Unknown currency"),
        ({"name": "   "}, "at least 1 character"),
        ({"name": "x" * 121}, "at most 120 characters"),
        ({"position": 3}, "Extra inputs are not permitted"),
    ],
)
async def test_invalid_services_are_refused_with_a_reason(client, owner, fields, message) -> None:
    response = await client.post(URL, json=service(**fields), headers=owner)
    assert response.status_code == 422
    assert message in str(response.json()["detail"])


async def test_patch_keeps_price_and_currency_together(client, owner) -> None:
    created = await add(client, owner, price="10", currency="USD")
    url = f"{URL}{created['id']}"

    response = await client.patch(url, json={"currency": None}, headers=owner)
    assert response.status_code == 422
    assert "currency" in response.json()["detail"]

    response = await client.patch(url, json={"currency": "CLP"}, headers=owner)
    assert response.json()["currency"] == "CLP"

    # Removing the price makes the service free, so its currency goes too.
    response = await client.patch(url, json={"price": None}, headers=owner)
    assert response.status_code == 200
    assert (response.json()["price"], response.json()["currency"]) == (None, None)

    response = await client.patch(url, json={"price": "5"}, headers=owner)
    assert response.status_code == 422

    response = await client.patch(url, json={"duration_minutes": None}, headers=owner)
    assert response.status_code == 422


async def test_services_are_added_at_the_end_and_listed_in_position_order(client, owner) -> None:
    names = [f"service {i}" for i in range(4)]
    for name in names:
        await add(client, owner, name=name)
    listed = (await client.get(URL, headers=owner)).json()
    assert listed["count"] == 4
    assert [s["name"] for s in listed["data"]] == names
    assert [s["position"] for s in listed["data"]] == [0, 1, 2, 3]


async def test_concurrent_creates_get_distinct_positions(client, owner) -> None:
    responses = await asyncio.gather(
        *(client.post(URL, json=service(name=f"s{i}"), headers=owner) for i in range(10))
    )
    assert [r.status_code for r in responses] == [201] * 10
    positions = sorted(r.json()["position"] for r in responses)
    assert positions == list(range(10))


async def test_list_filters_by_active_and_paginates(client, owner) -> None:
    for i in range(5):
        await add(client, owner, name=f"s{i}", is_active=i % 2 == 0)

    active = (await client.get(URL, params={"active": "true"}, headers=owner)).json()
    assert [s["name"] for s in active["data"]] == ["s0", "s2", "s4"]
    assert active["count"] == 3

    inactive = (await client.get(URL, params={"active": "false"}, headers=owner)).json()
    assert [s["name"] for s in inactive["data"]] == ["s1", "s3"]

    page = (await client.get(URL, params={"skip": 1, "limit": 2}, headers=owner)).json()
    assert page["count"] == 5
    assert [s["name"] for s in page["data"]] == ["s1", "s2"]


async def test_reorder_sets_every_position_in_one_call(client, owner) -> None:
    ids = [(await add(client, owner, name=f"s{i}"))["id"] for i in range(4)]
    new_order = [ids[2], ids[0], ids[3], ids[1]]

    response = await client.post(URL + "reorder", json={"ids": new_order}, headers=owner)
    assert response.status_code == 200, response.text
    assert [s["id"] for s in response.json()["data"]] == new_order
    assert [s["position"] for s in response.json()["data"]] == [0, 1, 2, 3]

    listed = (await client.get(URL, headers=owner)).json()["data"]
    assert [s["id"] for s in listed] == new_order
    # New services still go to the end.
    assert (await add(client, owner))["position"] == 4


async def test_reorder_racing_deletes_never_fails_with_500(client, new_workspace) -> None:
    """Without serialising catalogue writes, the reorder would update vanished rows."""
    for _ in range(10):
        owner, _ = await new_workspace()
        ids = [(await add(client, owner, name=f"s{i}"))["id"] for i in range(6)]
        responses = await asyncio.gather(
            *(client.delete(f"{URL}{i}", headers=owner) for i in ids[::2]),
            client.post(URL + "reorder", json={"ids": ids[::-1]}, headers=owner),
        )
        statuses = [r.status_code for r in responses]
        assert statuses[:3] == [204, 204, 204], statuses
        # Before the deletes: 200. After any of them: the list is stale, 422.
        assert statuses[3] in (200, 422), statuses
        listed = (await client.get(URL, headers=owner)).json()["data"]
        assert [s["id"] for s in listed] in (ids[1::2], ids[1::2][::-1])


async def test_reorder_refuses_ids_that_are_not_exactly_the_callers_services(
    client, owner, new_workspace
) -> None:
    other_headers, _ = await new_workspace()
    foreign = (await add(client, other_headers))["id"]
    ids = [(await add(client, owner, name=f"s{i}"))["id"] for i in range(3)]
    cases = [
        ([*ids, foreign], "Not services of your workspace"),
        ([*ids, str(uuid.uuid4())], "Not services of your workspace"),
        (ids[:2], "must list all your services"),
        ([ids[0], *ids], "only once"),
    ]
    for requested, message in cases:
        response = await client.post(URL + "reorder", json={"ids": requested}, headers=owner)
        assert response.status_code == 422, requested
        assert message in response.json()["detail"]
    # Nothing moved, and the other owner's service was not touched.
    assert [s["id"] for s in (await client.get(URL, headers=owner)).json()["data"]] == ids
    assert (await client.get(f"{URL}{foreign}", headers=other_headers)).json()["position"] == 0


async def test_another_users_service_is_not_found_for_every_verb(
    client, as_user, new_workspace
) -> None:
    owner_headers, _ = await new_workspace()
    created = await add(client, owner_headers)
    url = f"{URL}{created['id']}"
    stranger_with_workspace, _ = await new_workspace()
    stranger_without = as_user(uuid.uuid4())
    for stranger in (stranger_with_workspace, stranger_without):
        assert (await client.get(url, headers=stranger)).status_code == 404
        assert (await client.patch(url, json={"name": "x"}, headers=stranger)).status_code == 404
        assert (await client.delete(url, headers=stranger)).status_code == 404
    assert (await client.get(url, headers=owner_headers)).json() == created
    listed = (await client.get(URL, headers=stranger_with_workspace)).json()
    assert listed == {"data": [], "count": 0}


async def test_caller_without_a_workspace_gets_clear_409_on_writes_and_404_on_reads(
    client, as_user
) -> None:
    headers = as_user(uuid.uuid4())
    created = await client.post(URL, json=service(), headers=headers)
    assert created.status_code == 409
    assert "no workspace yet" in created.json()["detail"]

    reorder = await client.post(URL + "reorder", json={"ids": []}, headers=headers)
    assert reorder.status_code == 409

    listed = await client.get(URL, headers=headers)
    assert listed.status_code == 404
    assert "no workspace yet" in listed.json()["detail"]

    one = await client.get(f"{URL}{uuid.uuid4()}", headers=headers)
    assert one.status_code == 404
    assert one.json() == {"detail": "Workspace service not found"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", ""),
        ("POST", ""),
        ("POST", "reorder"),
        ("GET", "{id}"),
        ("PATCH", "{id}"),
        ("DELETE", "{id}"),
    ],
)
async def test_anonymous_callers_are_not_authenticated(client, as_user, method, path) -> None:
    response = await client.request(
        method,
        URL + path.format(id=uuid.uuid4()),
        json={"ids": []} if path == "reorder" else service() if method != "GET" else None,
        headers=as_user(None),
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


async def test_deleting_a_workspace_deletes_its_services(client, new_workspace, runtime) -> None:
    from sqlalchemy import text

    headers, ws = await new_workspace()
    for i in range(3):
        await add(client, headers, name=f"s{i}")
    assert (
        await client.delete(f"/api/v1/workspaces/{ws['id']}", headers=headers)
    ).status_code == 204
    async with runtime.engine.connect() as conn:
        left = await conn.scalar(
            text("SELECT count(*) FROM workspaces.workspace_services WHERE workspace_id = :w"),
            {"w": ws["id"]},
        )
    assert left == 0
