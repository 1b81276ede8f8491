"""The public page: what a visitor sees, and nothing of the owner's."""

import uuid

URL = "/api/v1/public/workspaces/"


async def test_public_page_shows_the_workspace_and_its_active_services_in_order(
    client, as_user, new_workspace
) -> None:
    headers, ws = await new_workspace(name="Acme Salon", tone="casual", timezone="Europe/Madrid")
    services = "/api/v1/workspace-services/"
    ids = []
    for name, active in [("Cut", True), ("Hidden", False), ("Color", True), ("Beard", True)]:
        response = await client.post(
            services,
            json={
                "name": name,
                "duration_minutes": 30,
                "is_active": active,
                "price": "20",
                "currency": "EUR",
            },
            headers=headers,
        )
        ids.append(response.json()["id"])
    # Display order set by the owner: Beard, Color, Hidden, Cut.
    await client.post(services + "reorder", json={"ids": ids[::-1]}, headers=headers)

    response = await client.get(URL + ws["handle"], headers=as_user(None))
    assert response.status_code == 200, response.text
    page = response.json()
    assert {k: page[k] for k in ("handle", "name", "tone", "timezone")} == {
        "handle": ws["handle"],
        "name": "Acme Salon",
        "tone": "casual",
        "timezone": "Europe/Madrid",
    }
    assert [s["name"] for s in page["services"]] == ["Beard", "Color", "Cut"]
    assert page["services"][0] == {
        "id": ids[3],
        "name": "Beard",
        "description": None,
        "duration_minutes": 30,
        "price": "20.00",
        "currency": "EUR",
    }


async def test_public_page_never_shows_owner_data(client, as_user, new_workspace) -> None:
    headers, ws = await new_workspace()
    await client.post(
        "/api/v1/workspace-services/", json={"name": "x", "duration_minutes": 5}, headers=headers
    )
    response = await client.get(URL + ws["handle"], headers=as_user(None))
    text = response.text
    facts = {"address", "map_url", "phone", "email", "payment_methods", "policies", "faq"}
    assert set(response.json()) == {"handle", "name", "tone", "timezone", "services"} | facts
    assert ws["owner_id"] not in text
    assert ws["id"] not in text
    assert "owner" not in text and "workspace_id" not in text


async def test_public_page_of_an_unknown_or_invalid_handle_is_not_found(client, as_user) -> None:
    for handle in (f"nobody-{uuid.uuid4().hex[:8]}", "Not_A_Handle"):
        response = await client.get(URL + handle, headers=as_user(None))
        assert response.status_code == 404
        assert response.json() == {"detail": "Workspace not found"}


async def test_public_page_follows_a_handle_change(client, as_user, new_workspace) -> None:
    headers, ws = await new_workspace()
    new_handle = f"moved-{uuid.uuid4().hex[:8]}"
    await client.patch(
        f"/api/v1/workspaces/{ws['id']}", json={"handle": new_handle}, headers=headers
    )
    assert (await client.get(URL + ws["handle"], headers=as_user(None))).status_code == 404
    assert (await client.get(URL + new_handle, headers=as_user(None))).status_code == 200
