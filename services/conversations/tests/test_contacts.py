"""Contacts on the real database and broker: found or created when a conversation starts,
read, searched, corrected and merged by the owner, removed with the workspace."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI, Header, Query
from fastapi.responses import JSONResponse

from conversations.connectors import Connectors
from conversations.db.uow import ConversationsUnitOfWork
from conversations.usecases.inbound import accept_inbound_message
from shared.events import Envelope, WorkspaceDeletedV1
from shared.testing import TEST_SECRET_KEY, LoopbackServer, wait_until
from shared.tokens import InvalidInternalToken, audience_key, verify_internal_token

from .test_inbound_consumer import connect_account

API = "/api/v1/contacts"
PHONE = "+34612345678"  # a valid Spanish mobile: WhatsApp sends it as 34612345678


async def record(client, owner, **body) -> dict[str, Any]:
    """An owner's recorded conversation (a phone call...): it gets a contact of its own."""
    response = await client.post("/api/v1/conversations/", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def contact(client, owner, contact_id) -> dict[str, Any]:
    response = await client.get(f"{API}/{contact_id}", headers=owner.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def outbox(query, event_type: str, aggregate_id) -> list[Any]:
    return await query(
        "SELECT envelope FROM conversations.outbox WHERE event_type = :t AND aggregate_id = :a "
        "ORDER BY id",
        t=event_type,
        a=str(aggregate_id),
    )


async def conversation_of(query, workspace_id, channel: str, visitor_id: str):
    rows = await query(
        "SELECT id, contact_id FROM conversations.conversations "
        "WHERE workspace_id = :ws AND channel = :ch AND visitor_id = :v",
        ws=workspace_id,
        ch=channel,
        v=visitor_id,
    )
    return rows[0] if rows else None


# --- found or created when a conversation starts -------------------------------------------


async def test_a_whatsapp_message_creates_a_contact_with_the_verified_e164_phone(
    client, query, new_owner, publish, inbound
) -> None:
    owner = await new_owner()
    account = f"pn-{uuid4().hex}"
    await connect_account(client, owner, "whatsapp", account)
    await publish(inbound(account_id=account, visitor_id="34612345678", visitor_name="Ana"))
    first = await wait_until(
        lambda: conversation_of(query, owner.workspace_id, "whatsapp", "34612345678")
    )

    read = await client.get(f"/api/v1/conversations/{first.id}", headers=owner.headers)
    assert read.json()["contact_id"] == str(first.contact_id)
    found = await contact(client, owner, first.contact_id)
    assert (found["name"], found["phone"], found["phone_verified"]) == ("Ana", PHONE, True)
    assert found["phone_verified_at"] is not None
    assert (found["email"], found["email_verified"]) == (None, False)
    assert [(i["channel"], i["external_id"]) for i in found["identities"]] == [
        ("whatsapp", "34612345678")
    ]
    assert [c["id"] for c in found["conversations"]] == [str(first.id)]
    [created] = await outbox(query, "contact.created", first.contact_id)
    assert created.envelope["payload"] | {"created_at": None} == {
        "contact_id": str(first.contact_id),
        "workspace_id": str(owner.workspace_id),
        "name": "Ana",
        "phone": PHONE,
        "email": None,
        "phone_verified": True,
        "email_verified": False,
        "channel": "whatsapp",
        "created_at": None,
    }
    [started] = await outbox(query, "conversation.started", first.id)
    assert started.envelope["payload"]["contact_id"] == str(first.contact_id)

    # The owner deletes that conversation; the same number writes again: a new
    # conversation, the same person.
    deleted = await client.delete(f"/api/v1/conversations/{first.id}", headers=owner.headers)
    assert deleted.status_code == 204
    await publish(inbound(account_id=account, visitor_id="34612345678", content="me again"))
    second = await wait_until(
        lambda: conversation_of(query, owner.workspace_id, "whatsapp", "34612345678")
    )
    assert second.id != first.id
    assert second.contact_id == first.contact_id

    # An SMS from the same number is the same phone, proven by that channel too.
    await publish(inbound(channel="sms", workspace_id=owner.workspace_id, visitor_id=PHONE))
    sms = await wait_until(lambda: conversation_of(query, owner.workspace_id, "sms", PHONE))
    assert sms.contact_id == first.contact_id
    found = await contact(client, owner, first.contact_id)
    assert sorted((i["channel"], i["external_id"]) for i in found["identities"]) == [
        ("sms", PHONE),
        ("whatsapp", "34612345678"),
    ]
    assert {c["id"] for c in found["conversations"]} == {str(second.id), str(sms.id)}
    assert len(await outbox(query, "contact.created", first.contact_id)) == 1


async def test_other_channels_make_a_contact_without_a_phone(
    client, query, new_owner, publish, inbound
) -> None:
    owner = await new_owner()
    psid = f"psid-{uuid4().hex}"
    await publish(inbound(channel="messenger", workspace_id=owner.workspace_id, visitor_id=psid))
    row = await wait_until(lambda: conversation_of(query, owner.workspace_id, "messenger", psid))
    found = await contact(client, owner, row.contact_id)
    assert (found["phone"], found["phone_verified"], found["name"]) == (None, False, None)
    assert [(i["channel"], i["external_id"]) for i in found["identities"]] == [("messenger", psid)]


async def test_two_first_messages_of_one_person_at_once_make_one_contact(
    app, client, query, new_owner, inbound
) -> None:
    """Eight consumers take eight first messages of one new visitor at the same moment."""
    owner = await new_owner()
    visitor = f"3461{uuid4().int % 10**7:07d}"

    async def consume() -> None:
        event = inbound(workspace_id=owner.workspace_id, visitor_id=visitor)
        async with ConversationsUnitOfWork(app.state.runtime.sessionmaker) as uow:
            await accept_inbound_message(uow, Envelope.wrap(event, producer="gateway"))
            await uow.commit()

    await asyncio.gather(*(consume() for _ in range(8)))

    [row] = await query(
        "SELECT count(DISTINCT c.id) AS conversations, count(DISTINCT c.contact_id) AS contacts, "
        "sum(c.message_count) AS messages FROM conversations.conversations c "
        "WHERE c.workspace_id = :ws",
        ws=owner.workspace_id,
    )
    assert (row.conversations, row.contacts, row.messages) == (1, 1, 8)
    [count] = await query(
        "SELECT count(*) AS n FROM conversations.contacts WHERE workspace_id = :ws",
        ws=owner.workspace_id,
    )
    assert count.n == 1


async def test_a_second_first_message_waits_for_the_first_and_finds_its_contact(
    app, client, query, new_owner
) -> None:
    """The interleaving the race test hopes for, forced: the second transaction reaches the
    identity while the first holds it uncommitted, waits, then gets the first's contact."""
    from conversations.db.contacts import NewContact

    owner = await new_owner()
    sessionmaker = app.state.runtime.sessionmaker
    identity = (owner.workspace_id, "instagram", f"ig-{uuid4().hex}")
    async with ConversationsUnitOfWork(sessionmaker) as first:
        first_id, first_created = await first.contacts.for_identity(
            *identity, NewContact(name="Ana")
        )

        async def second() -> tuple[uuid.UUID, bool]:
            async with ConversationsUnitOfWork(sessionmaker) as uow:
                found = await uow.contacts.for_identity(*identity, NewContact(name="Other"))
                await uow.commit()
                return found

        waiting = asyncio.create_task(second())
        await wait_until(
            lambda: query(
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%contact_identities%' AND datname = current_database()"
            )
        )
        assert not waiting.done()
        await first.commit()
    second_id, second_created = await waiting
    assert (first_created, second_created) == (True, False)
    assert second_id == first_id
    rows = await query(
        "SELECT name FROM conversations.contacts WHERE workspace_id = :ws", ws=owner.workspace_id
    )
    assert [r.name for r in rows] == ["Ana"]


# --- web chat ------------------------------------------------------------------------------


def _visitor(as_user) -> dict[str, str]:
    return as_user(None) | {"X-Forwarded-For": f"10.{uuid4().int % 250}.1.1"}


async def test_a_web_chat_keeps_what_the_visitor_typed_as_unverified(
    client, query, new_owner, as_user, execute
) -> None:
    owner = await new_owner()
    # The workspace is in Spain: a number typed without a country code is Spanish.
    await execute(
        "UPDATE conversations.workspaces SET phone = '+34911234567' WHERE id = :id",
        id=owner.workspace_id,
    )
    url = f"/api/v1/public/workspaces/{owner.handle}/conversations"
    opened = await client.post(
        url,
        json={
            "visitor_name": "  Marta  López ",
            "visitor_email": "Marta@Example.COM",
            "visitor_phone": "612 34 56 78",
        },
        headers=_visitor(as_user),
    )
    assert opened.status_code == 201, opened.text
    conversation_id = opened.json()["conversation_id"]
    read = await client.get(f"/api/v1/conversations/{conversation_id}", headers=owner.headers)
    found = await contact(client, owner, read.json()["contact_id"])
    assert found["name"] == "Marta López"
    assert (found["email"], found["email_verified"]) == ("Marta@example.com", False)
    assert (found["phone"], found["phone_verified"]) == (PHONE, False)
    [identity] = found["identities"]
    assert identity["channel"] == "web" and identity["external_id"].startswith("web:")

    # The free contact field is kept when it is an e-mail or a phone.
    opened = await client.post(
        url, json={"visitor_contact": "ana@example.org"}, headers=_visitor(as_user)
    )
    read = await client.get(
        f"/api/v1/conversations/{opened.json()['conversation_id']}", headers=owner.headers
    )
    found = await contact(client, owner, read.json()["contact_id"])
    assert (found["email"], found["email_verified"], found["phone"]) == (
        "ana@example.org",
        False,
        None,
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"visitor_email": "marta@"}, "not an e-mail address"),
        ({"visitor_phone": "12"}, "not a phone number"),
    ],
)
async def test_a_web_chat_with_a_malformed_email_or_phone_is_a_readable_422(
    client, query, new_owner, as_user, body, says
) -> None:
    owner = await new_owner()
    response = await client.post(
        f"/api/v1/public/workspaces/{owner.handle}/conversations",
        json=body,
        headers=_visitor(as_user),
    )
    assert response.status_code == 422, response.text
    assert says in response.json()["detail"]
    assert not await query(
        "SELECT 1 FROM conversations.contacts WHERE workspace_id = :ws", ws=owner.workspace_id
    )


# --- the owner's API -------------------------------------------------------------------------


async def test_owner_lists_and_searches_contacts_by_name_phone_and_email(client, new_owner) -> None:
    owner = await new_owner()
    ana = await record(client, owner, visitor_name="Ana Pérez", visitor_contact="+34 612 345 678")
    await record(client, owner, visitor_name="Bruno", visitor_contact="bruno@example.org")
    await record(client, owner, visitor_name="Carla 50%_off")

    async def search(**params) -> tuple[list[str], int]:
        response = await client.get(API + "/", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        return [c["name"] for c in body["data"]], body["count"]

    names, count = await search()
    assert count == 3 and sorted(names) == ["Ana Pérez", "Bruno", "Carla 50%_off"]
    assert await search(q="ana p") == (["Ana Pérez"], 1)
    assert await search(q="EXAMPLE.org") == (["Bruno"], 1)
    assert await search(q="612 345") == (["Ana Pérez"], 1)  # as people write numbers
    assert await search(q="+34612") == (["Ana Pérez"], 1)
    assert await search(q="%") == (["Carla 50%_off"], 1)  # LIKE wildcards are plain text
    assert await search(q="nobody") == ([], 0)
    page, count = await search(limit=1, skip=1)
    assert len(page) == 1 and count == 3

    found = await contact(client, owner, ana["contact_id"])
    assert (found["phone"], found["phone_verified"]) == (PHONE, False)  # typed: a claim
    bad = await client.get(API + "/", params={"q": ""}, headers=owner.headers)
    assert bad.status_code == 422


async def test_owner_corrects_a_contact_and_a_changed_phone_loses_its_proof(
    client, query, new_owner, publish, inbound, execute
) -> None:
    owner = await new_owner()
    await execute(
        "UPDATE conversations.workspaces SET phone = '+34911234567' WHERE id = :id",
        id=owner.workspace_id,
    )
    await publish(inbound(workspace_id=owner.workspace_id, visitor_id="34612345678"))
    row = await wait_until(
        lambda: conversation_of(query, owner.workspace_id, "whatsapp", "34612345678")
    )
    url = f"{API}/{row.contact_id}"

    same = await client.patch(
        url, json={"name": " Ana ", "phone": "+34 612 34 56 78"}, headers=owner.headers
    )
    assert same.status_code == 200, same.text
    assert (same.json()["name"], same.json()["phone_verified"]) == ("Ana", True)

    changed = await client.patch(
        url, json={"phone": "699 99 99 99", "email": "ANA@Example.com"}, headers=owner.headers
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["phone"], body["phone_verified"], body["phone_verified_at"]) == (
        "+34699999999",
        False,
        None,
    )
    assert (body["email"], body["email_verified"]) == ("ANA@example.com", False)
    assert body["name"] == "Ana"  # not sent, not changed

    cleared = await client.patch(url, json={"email": None, "name": ""}, headers=owner.headers)
    assert (cleared.json()["email"], cleared.json()["name"]) == (None, None)

    events = await outbox(query, "contact.updated", row.contact_id)
    assert [e.envelope["payload"]["changed"] for e in events] == [
        ["name"],
        ["phone", "email"],
        ["name", "email"],
    ]
    assert events[1].envelope["payload"]["phone_verified"] is False


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"phone": "12"}, "not a phone number"),
        ({"phone": "612 34 56 78"}, "country code"),  # the workspace has no phone: no region
        ({"email": "ana@@example.com"}, "not an e-mail address"),
        ({"email": "ana"}, "not an e-mail address"),
    ],
)
async def test_patch_with_a_bad_phone_or_email_is_a_readable_422_and_changes_nothing(
    client, new_owner, body, says
) -> None:
    owner = await new_owner()
    recorded = await record(client, owner, visitor_name="Ana")
    url = f"{API}/{recorded['contact_id']}"
    response = await client.patch(url, json=body, headers=owner.headers)
    assert response.status_code == 422, response.text
    assert says in response.json()["detail"]
    after = await contact(client, owner, recorded["contact_id"])
    assert (after["name"], after["phone"], after["email"]) == ("Ana", None, None)


async def test_patch_refuses_unknown_fields_and_overlong_values(client, new_owner) -> None:
    owner = await new_owner()
    recorded = await record(client, owner)
    url = f"{API}/{recorded['contact_id']}"
    for body in ({"phone_verified": True}, {"name": "x" * 201}, {"email": 5}):
        response = await client.patch(url, json=body, headers=owner.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"][0]["loc"][0] == "body"


async def test_owner_merges_two_contacts_of_one_person(
    client, query, new_owner, publish, inbound, as_user
) -> None:
    owner = await new_owner()
    await publish(inbound(workspace_id=owner.workspace_id, visitor_id="34612345678"))
    whatsapp = await wait_until(
        lambda: conversation_of(query, owner.workspace_id, "whatsapp", "34612345678")
    )
    opened = await client.post(
        f"/api/v1/public/workspaces/{owner.handle}/conversations",
        json={"visitor_name": "Ana", "visitor_email": "ana@example.com", "visitor_phone": PHONE},
        headers=_visitor(as_user),
    )
    web_conversation = opened.json()["conversation_id"]
    web = await client.get(f"/api/v1/conversations/{web_conversation}", headers=owner.headers)
    keep, other = str(whatsapp.contact_id), web.json()["contact_id"]

    merged = await client.post(
        f"{API}/{keep}/merge", json={"other_id": other}, headers=owner.headers
    )
    assert merged.status_code == 200, merged.text
    body = merged.json()
    # The channel's proven phone stays verified, the name and the e-mail come from the other.
    assert (body["id"], body["name"], body["phone"], body["phone_verified"]) == (
        keep,
        "Ana",
        PHONE,
        True,
    )
    assert (body["email"], body["email_verified"]) == ("ana@example.com", False)

    gone = await client.get(f"{API}/{other}", headers=owner.headers)
    assert gone.status_code == 404
    found = await contact(client, owner, keep)
    assert sorted(i["channel"] for i in found["identities"]) == ["web", "whatsapp"]
    assert {c["id"] for c in found["conversations"]} == {str(whatsapp.id), web_conversation}
    web = await client.get(f"/api/v1/conversations/{web_conversation}", headers=owner.headers)
    assert web.json()["contact_id"] == keep
    [event] = await outbox(query, "contact.merged", keep)
    assert event.envelope["payload"]["merged_contact_id"] == other
    assert event.envelope["payload"]["conversation_ids"] == [web_conversation]
    [updated] = await outbox(query, "contact.updated", keep)
    assert updated.envelope["payload"]["changed"] == ["name", "email"]

    # One person, one contact left.
    count = await client.get(API + "/", headers=owner.headers)
    assert count.json()["count"] == 1


async def test_merge_with_itself_is_422_and_with_a_stranger_404(client, new_owner) -> None:
    owner, stranger = await new_owner(), await new_owner()
    mine = (await record(client, owner, visitor_name="Ana"))["contact_id"]
    theirs = (await record(client, stranger, visitor_name="Zoe"))["contact_id"]

    itself = await client.post(
        f"{API}/{mine}/merge", json={"other_id": mine}, headers=owner.headers
    )
    assert itself.status_code == 422
    assert itself.json()["detail"] == "A contact cannot be merged with itself"
    foreign = await client.post(
        f"{API}/{mine}/merge", json={"other_id": theirs}, headers=owner.headers
    )
    assert foreign.status_code == 404
    assert "other_id" in foreign.json()["detail"]
    missing = await client.post(
        f"{API}/{mine}/merge", json={"other_id": str(uuid4())}, headers=owner.headers
    )
    assert missing.status_code == 404
    # Nothing moved: both still there, each with its own conversation.
    assert len((await contact(client, owner, mine))["conversations"]) == 1
    assert len((await contact(client, stranger, theirs))["conversations"]) == 1


async def test_two_opposite_merges_at_once_leave_one_contact(client, new_owner, query) -> None:
    owner = await new_owner()
    a = (await record(client, owner, visitor_name="Ana"))["contact_id"]
    b = (await record(client, owner, visitor_name="Ana P."))["contact_id"]
    for round_ in range(3):  # three rounds of an owner merging from two tabs at once
        first, second = await asyncio.gather(
            client.post(f"{API}/{a}/merge", json={"other_id": b}, headers=owner.headers),
            client.post(f"{API}/{b}/merge", json={"other_id": a}, headers=owner.headers),
        )
        assert sorted((first.status_code, second.status_code)) == [200, 404], (
            first.text,
            second.text,
        )
        [kept] = [r.json()["id"] for r in (first, second) if r.status_code == 200]
        rows = await query(
            "SELECT id FROM conversations.contacts WHERE workspace_id = :ws", ws=owner.workspace_id
        )
        assert [str(r.id) for r in rows] == [kept]
        assert len((await contact(client, owner, kept))["conversations"]) == 2 + round_
        # The next round races on the kept contact and a new one.
        a, b = kept, (await record(client, owner, visitor_name="Ana"))["contact_id"]


async def test_another_owners_contact_is_404_everywhere(client, new_owner) -> None:
    owner, attacker = await new_owner(), await new_owner()
    victim = (await record(client, owner, visitor_name="Ana"))["contact_id"]
    decoy = (await record(client, attacker, visitor_name="Eve"))["contact_id"]
    h = attacker.headers
    assert (await client.get(f"{API}/{victim}", headers=h)).status_code == 404
    assert (await client.patch(f"{API}/{victim}", json={"name": "X"}, headers=h)).status_code == 404
    merge_theirs = await client.post(f"{API}/{victim}/merge", json={"other_id": decoy}, headers=h)
    assert merge_theirs.status_code == 404
    # Pulling the victim's contact into one's own is refused the same way.
    pull = await client.post(f"{API}/{decoy}/merge", json={"other_id": victim}, headers=h)
    assert pull.status_code == 404
    itself = await client.post(f"{API}/{victim}/merge", json={"other_id": victim}, headers=h)
    assert itself.status_code == 404
    listed = await client.get(API + "/", params={"q": "Ana"}, headers=h)
    assert listed.json() == {"data": [], "count": 0}
    intact = await contact(client, owner, victim)
    assert intact["name"] == "Ana" and len(intact["conversations"]) == 1


# --- bookings from connectors -------------------------------------------------------------


class FakeBookings(LoopbackServer):
    """The connectors service's bookings list, as it answers the contact page."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.mode = "ok"  # ok | legacy (no contact_id on rows) | error
        self.calls: list[tuple[uuid.UUID | None, dict[str, str]]] = []
        app = FastAPI()

        @app.get("/api/v1/connectors/active/bookings")
        async def bookings(
            authorization: str = Header(default=""),
            contact_id: str | None = Query(default=None),
            limit: int = Query(default=100),
        ) -> Any:
            try:
                principal = verify_internal_token(
                    audience_key(TEST_SECRET_KEY, "connectors"),
                    "connectors",
                    authorization.removeprefix("Bearer "),
                )
            except InvalidInternalToken:
                return JSONResponse({"detail": "Not authenticated"}, 401)
            self.calls.append((principal.user_id, {"contact_id": contact_id or ""}))
            if self.mode == "error":
                return JSONResponse({"detail": "boom"}, 500)
            rows = [r for r in self.rows if contact_id is None or r["contact_id"] == contact_id]
            if self.mode == "legacy":
                rows = [{k: v for k, v in r.items() if k != "contact_id"} for r in self.rows]
            return {"data": rows, "count": len(rows)}

        super().__init__(app, "fake connectors bookings")


@pytest.fixture(scope="module")
def fake_bookings() -> Iterator[FakeBookings]:
    server = FakeBookings().start()
    yield server
    server.stop()


@pytest.fixture
def bookings_at(app, monkeypatch):
    def point(url: str, timeout: float | None = None) -> None:
        reader = app.state.bookings_reader
        settings = app.state.runtime.settings
        monkeypatch.setattr(
            reader,
            "connectors",
            Connectors(
                url,
                settings.token_key("connectors", "conversations"),
                settings.connectors_timeout_seconds,
            ),
        )
        if timeout is not None:
            monkeypatch.setattr(reader, "timeout", timeout)

    return point


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


async def test_a_contact_shows_its_bookings_from_connectors(
    client, new_owner, fake_bookings, bookings_at
) -> None:
    owner = await new_owner()
    contact_id = (await record(client, owner, visitor_name="Ana"))["contact_id"]
    booking = {"id": "b-1", "start": "2030-01-01T10:00:00Z", "contact_id": contact_id}
    fake_bookings.rows = [booking, {"id": "b-2", "contact_id": str(uuid4())}]
    fake_bookings.mode = "ok"
    bookings_at(fake_bookings.url)

    found = await contact(client, owner, contact_id)
    assert (found["bookings"], found["bookings_note"]) == ([booking], None)
    # Asked for the owner (connectors applies its own authorization) and this contact.
    assert fake_bookings.calls[-1] == (owner.owner_id, {"contact_id": contact_id})


@pytest.mark.parametrize("failure", ["unreachable", "error", "legacy", "slow"])
async def test_a_contact_opens_without_bookings_when_connectors_cannot_say(
    client, new_owner, fake_bookings, bookings_at, failure
) -> None:
    owner = await new_owner()
    contact_id = (await record(client, owner, visitor_name="Ana"))["contact_id"]
    fake_bookings.rows = [{"id": "b-9", "contact_id": str(uuid4())}]
    fake_bookings.mode = failure if failure in ("error", "legacy") else "ok"
    if failure == "unreachable":
        bookings_at(_closed_port())
    elif failure == "slow":
        # A listener that never answers: the page waits the timeout, not connectors.
        blackhole = socket.socket()
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen()
        bookings_at(f"http://127.0.0.1:{blackhole.getsockname()[1]}", timeout=0.3)
    else:
        bookings_at(fake_bookings.url)
    try:
        found = await contact(client, owner, contact_id)
    finally:
        if failure == "slow":
            blackhole.close()
    assert found["bookings"] is None
    assert found["bookings_note"].startswith("Bookings unavailable")
    assert found["name"] == "Ana" and len(found["conversations"]) == 1


# --- what the agent uses ---------------------------------------------------------------------


async def test_the_agent_reads_a_conversations_contact_and_records_proven_details(
    app, client, query, new_owner
) -> None:
    from conversations.domain.contacts import InvalidEmail
    from conversations.domain.errors import ContactNotFound

    owner = await new_owner()
    recorded = await record(client, owner, channel="chatgpt", visitor_name="Ana")
    async with ConversationsUnitOfWork(app.state.runtime.sessionmaker) as uow:
        found = await uow.contacts.for_conversation(uuid.UUID(recorded["id"]))
        assert (str(found.id), found.name) == (recorded["contact_id"], "Ana")
        updated = await uow.contacts.update_details(
            found.id, email="Ana@Example.com", phone="+34 612 345 678", verified=True
        )
        assert (updated.email, updated.phone) == ("Ana@example.com", PHONE)
        assert updated.email_verified and updated.phone_verified
        with pytest.raises(InvalidEmail):
            await uow.contacts.update_details(found.id, email="nope")
        await uow.commit()
    async with ConversationsUnitOfWork(app.state.runtime.sessionmaker) as uow:
        with pytest.raises(ContactNotFound):
            await uow.contacts.for_conversation(uuid4())
    [event] = await outbox(query, "contact.updated", recorded["contact_id"])
    assert event.envelope["payload"]["changed"] == ["phone", "email"]
    assert event.envelope["payload"]["email_verified"] is True


# --- removed with the workspace (and so with its owner) --------------------------------------


async def test_deleting_the_workspace_removes_its_contacts_and_says_so(
    client, query, new_owner, publish
) -> None:
    owner = await new_owner()
    ids = [(await record(client, owner, visitor_name=n))["contact_id"] for n in ("A", "B", "C")]
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

    async def deleted_events() -> list[Any]:
        rows = await query(
            "SELECT aggregate_id, envelope FROM conversations.outbox "
            "WHERE event_type = 'contact.deleted' AND envelope->'payload'->>'workspace_id' = :ws",
            ws=str(owner.workspace_id),
        )
        return rows if len(rows) == 3 else []

    events = await wait_until(deleted_events)
    assert sorted(e.aggregate_id for e in events) == sorted(ids)
    assert {e.envelope["payload"]["reason"] for e in events} == {"workspace_deleted"}
    assert not await query(
        "SELECT 1 FROM conversations.contacts WHERE workspace_id = :ws "
        "UNION ALL SELECT 1 FROM conversations.contact_identities WHERE workspace_id = :ws",
        ws=owner.workspace_id,
    )
