"""Business facts on the workspace: set, merge, clear, validate; read back by the owner and
on the public page; someone else's workspace stays a 404."""

import uuid

import pytest
from sqlalchemy import text

URL = "/api/v1/workspaces/"
PUBLIC = "/api/v1/public/workspaces/"

EMPTY = {
    "address": None,
    "map_url": None,
    "phone": None,
    "email": None,
    "payment_methods": [],
    "policies": {"cancellation": None, "lateness": None, "deposit": None},
    "faq": [],
}

FACTS = {
    "address": "  Calle Mayor 1, 28013 Madrid ",
    "map_url": "https://maps.app.goo.gl/abc123",
    "phone": "+34 912 34 56 78",
    "email": "Hola@Example.COM",
    "payment_methods": ["Cash", " Visa ", "cash", "Bizum"],
    "policies": {"cancellation": "Free up to 24 hours before.", "deposit": None},
    "faq": [
        {"question": "Do you have parking?", "answer": "Yes, in the back.", "language": "en"},
        {"question": "¿Hay aparcamiento?", "answer": "Sí, detrás.", "language": "ES"},
        {"question": "Wi-Fi?", "answer": "Free for clients."},
    ],
}

STORED = {
    "address": "Calle Mayor 1, 28013 Madrid",
    "map_url": "https://maps.app.goo.gl/abc123",
    "phone": "+34912345678",
    "email": "Hola@example.com",
    "payment_methods": ["Cash", "Visa", "Bizum"],
    "policies": {"cancellation": "Free up to 24 hours before.", "lateness": None, "deposit": None},
    "faq": [
        {"question": "Do you have parking?", "answer": "Yes, in the back.", "language": "en"},
        {"question": "¿Hay aparcamiento?", "answer": "Sí, detrás.", "language": "es"},
        {"question": "Wi-Fi?", "answer": "Free for clients.", "language": None},
    ],
}


def facts_of(body: dict) -> dict:
    return {k: body[k] for k in EMPTY}


async def test_a_new_workspace_has_no_facts(client, new_workspace) -> None:
    _, ws = await new_workspace()
    assert facts_of(ws) == EMPTY


async def test_owner_sets_facts_and_reads_them_back_normalized_here_and_on_the_public_page(
    client, as_user, new_workspace
) -> None:
    headers, ws = await new_workspace()
    response = await client.patch(f"{URL}{ws['id']}", json=FACTS, headers=headers)
    assert response.status_code == 200, response.text
    assert facts_of(response.json()) == STORED
    assert facts_of((await client.get(f"{URL}{ws['id']}", headers=headers)).json()) == STORED
    assert facts_of((await client.get(URL + "me", headers=headers)).json()) == STORED
    public = await client.get(PUBLIC + ws["handle"], headers=as_user(None))
    assert public.status_code == 200
    assert facts_of(public.json()) == STORED


async def test_facts_can_be_given_at_creation(client, as_user) -> None:
    body = {"handle": f"ws-{uuid.uuid4().hex[:12]}", "name": "Acme", "timezone": "UTC"} | FACTS
    response = await client.post(URL, json=body, headers=as_user(uuid.uuid4()))
    assert response.status_code == 201, response.text
    assert facts_of(response.json()) == STORED


async def test_policies_merge_and_null_clears_each_fact(client, new_workspace) -> None:
    headers, ws = await new_workspace()
    await client.patch(f"{URL}{ws['id']}", json=FACTS, headers=headers)

    # A policy not named keeps its text; a named one is set or cleared.
    response = await client.patch(
        f"{URL}{ws['id']}",
        json={"policies": {"lateness": "We wait 10 minutes."}, "address": "Calle Luna 2"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["policies"] == {
        "cancellation": "Free up to 24 hours before.",
        "lateness": "We wait 10 minutes.",
        "deposit": None,
    }
    assert response.json()["faq"] == STORED["faq"]  # untouched: not sent

    cleared = await client.patch(
        f"{URL}{ws['id']}", json=dict.fromkeys(EMPTY) | {"address": "  "}, headers=headers
    )
    assert cleared.status_code == 200, cleared.text
    assert facts_of(cleared.json()) == EMPTY
    assert cleared.json()["name"] == ws["name"]


@pytest.mark.parametrize(
    ("patch", "field", "message"),
    [
        ({"phone": "912 345 678"}, "phone", "must start with + and the country code"),
        ({"phone": "+1 555 0100"}, "phone", "not a valid phone number"),
        ({"phone": "call me"}, "phone", "not a phone number"),
        ({"email": "hola@"}, "email", "Not a valid e-mail address"),
        ({"map_url": "http://maps.example.com/x"}, "map_url", "URL scheme should be 'https'"),
        ({"map_url": "javascript:alert(1)"}, "map_url", "URL scheme should be 'https'"),
        ({"map_url": "https://" + "a" * 2000 + ".com"}, "map_url", "at most 2000"),
        ({"address": "x" * 301}, "address", "at most 300 characters"),
        ({"payment_methods": ["Cash", "  "]}, "payment_methods", "cannot be blank"),
        ({"payment_methods": ["x" * 61]}, "payment_methods", "at most 60 characters"),
        (
            {"payment_methods": [f"Method {i}" for i in range(21)]},
            "payment_methods",
            "At most 20 payment methods",
        ),
        ({"policies": {"cancellation": "x" * 501}}, "cancellation", "at most 500 characters"),
        ({"policies": {"refunds": "never"}}, "refunds", "Extra inputs are not permitted"),
        ({"faq": [{"question": "Q?", "answer": ""}]}, "answer", "at least 1 character"),
        ({"faq": [{"question": "q" * 301, "answer": "a"}]}, "question", "at most 300"),
        ({"faq": [{"question": "Q?", "answer": "a" * 1001}]}, "answer", "at most 1000"),
        ({"faq": [{"question": "Q?", "answer": "A", "language": "nl"}]}, "language", "'en'"),
        ({"faq": [{"question": "Q?", "answer": "A"}] * 51}, "faq", "at most 50 items"),
        ({"faq": [{"answer": "A"}]}, "question", "Field required"),
    ],
)
async def test_bad_facts_are_422_with_a_readable_message_and_change_nothing(
    client, new_workspace, patch, field, message
) -> None:
    headers, ws = await new_workspace()
    response = await client.patch(f"{URL}{ws['id']}", json=patch, headers=headers)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(field in map(str, e["loc"]) and message in e["msg"] for e in errors), errors
    assert facts_of((await client.get(f"{URL}{ws['id']}", headers=headers)).json()) == EMPTY


async def test_twenty_methods_after_dropping_repeats_are_accepted(client, new_workspace) -> None:
    headers, ws = await new_workspace()
    methods = [f"Method {i}" for i in range(20)] + ["method 0", "METHOD 1"]
    response = await client.patch(
        f"{URL}{ws['id']}", json={"payment_methods": methods}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["payment_methods"] == methods[:20]


async def test_another_owners_workspace_is_404_for_a_facts_patch(
    client, as_user, new_workspace
) -> None:
    headers, ws = await new_workspace()
    stranger = as_user(uuid.uuid4())
    response = await client.patch(f"{URL}{ws['id']}", json=FACTS, headers=stranger)
    assert response.status_code == 404
    assert response.json() == {"detail": "Workspace not found"}
    assert facts_of((await client.get(f"{URL}{ws['id']}", headers=headers)).json()) == EMPTY


async def test_a_patch_that_changes_no_fact_emits_nothing(
    client, new_workspace, outbox_rows
) -> None:
    headers, ws = await new_workspace()
    await client.patch(f"{URL}{ws['id']}", json=FACTS, headers=headers)
    before = await outbox_rows(ws["id"], "workspace.updated")
    again = await client.patch(f"{URL}{ws['id']}", json=FACTS, headers=headers)
    assert again.status_code == 200
    assert len(await outbox_rows(ws["id"], "workspace.updated")) == len(before) == 1


async def test_the_database_refuses_facts_the_api_would(client, runtime, new_workspace) -> None:
    _, ws = await new_workspace()
    for sql in (
        "UPDATE workspaces.workspaces SET phone = '912345678' WHERE id = :id",
        "UPDATE workspaces.workspaces SET map_url = 'http://x.example' WHERE id = :id",
        "UPDATE workspaces.workspaces SET faq = '{}'::jsonb WHERE id = :id",
    ):
        async with runtime.engine.connect() as conn:
            with pytest.raises(Exception, match="ck_workspaces_"):
                await conn.execute(text(sql), {"id": ws["id"]})
