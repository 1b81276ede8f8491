"""One-time codes that prove a typed e-mail, and the anonymous web chat booking limit, on the
real database and broker (the code's e-mail leaves through the outbox and the relay)."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from uuid import UUID, uuid4

import pytest

from conversations.db.uow import ConversationsUnitOfWork
from conversations.domain.contacts import InvalidContactDetail
from conversations.usecases.identity import (
    CodeCheck,
    CodeRequest,
    identity_policy,
    proven_contact_of,
    record_webchat_booking,
    request_identity_code,
    verify_identity_code,
    webchat_booking_allowed,
)
from shared.testing import wait_until

SENT = CodeRequest("sent_if_known", "email")


@pytest.fixture
def uow(app, client) -> ConversationsUnitOfWork:
    return ConversationsUnitOfWork(app.state.runtime.sessionmaker)


@pytest.fixture
def policy(settings):
    return identity_policy(settings)


async def open_chat(client, as_user, owner, address: str | None = None, **body: Any) -> UUID:
    headers = as_user(None) | {"X-Forwarded-For": address or f"10.{uuid4().int % 250}.2.2"}
    opened = await client.post(
        f"/api/v1/public/workspaces/{owner.handle}/conversations", json=body, headers=headers
    )
    assert opened.status_code == 201, opened.text
    return UUID(opened.json()["conversation_id"])


async def contact_of(query, conversation_id: UUID) -> Any:
    [row] = await query(
        "SELECT k.* FROM conversations.contacts k JOIN conversations.conversations c "
        "ON c.contact_id = k.id WHERE c.id = :id",
        id=conversation_id,
    )
    return row


async def mails_to(query, owner, to: str, published: bool = False) -> list[dict[str, Any]]:
    """E-mails this workspace asked to send to `to` (published by the relay, if asked)."""
    rows = await query(
        "SELECT envelope, published_at FROM conversations.outbox "
        "WHERE event_type = 'notification.email_requested' "
        "AND envelope->'payload'->>'to' = :to "
        "AND envelope->'payload'->>'workspace_id' = :ws ORDER BY id",
        to=to,
        ws=str(owner.workspace_id),
    )
    return [r.envelope["payload"] for r in rows if r.published_at or not published]


async def published_code(query, owner, to: str, count: int = 1) -> str:
    """The newest code mailed to `to`, once the relay published it."""

    async def mails() -> list[dict[str, Any]] | None:
        found = await mails_to(query, owner, to, published=True)
        return found if len(found) >= count else None

    found = await wait_until(mails)
    match = re.search(r"\b(\d{6})\b", found[-1]["text"])
    assert match, found[-1]
    return match.group(1)


def other_than(code: str, n: int = 0) -> str:
    return f"{(int(code) + 1 + n) % 1_000_000:06d}"


async def known_person(client, as_user, owner, email: str) -> UUID:
    """Someone who chatted before and left their e-mail: a contact holding it (a claim)."""
    return await open_chat(client, as_user, owner, visitor_name="Ana", visitor_email=email)


# --- requesting a code ----------------------------------------------------------------------


async def test_a_code_is_mailed_only_to_a_known_address_and_the_answer_never_tells(
    client, as_user, new_owner, query, uow, policy
) -> None:
    owner = await new_owner()
    await known_person(client, as_user, owner, "ana@example.com")
    visitor = await open_chat(client, as_user, owner)
    stranger = await open_chat(client, as_user, owner)

    known = await request_identity_code(uow, visitor, "  Ana@Example.COM ", policy=policy)
    unknown = await request_identity_code(uow, stranger, "nobody@example.com", policy=policy)

    assert known == unknown == SENT
    code = await published_code(query, owner, "ana@example.com")  # through the outbox and relay
    [mail] = await mails_to(query, owner, "ana@example.com")
    assert mail["subject"] == "Your code for Acme" and code in mail["text"]
    assert await mails_to(query, owner, "nobody@example.com") == []
    rows = await query(
        "SELECT conversation_id, contact_id, target, code_hash FROM conversations.identity_codes "
        "WHERE workspace_id = :ws ORDER BY created_at",
        ws=owner.workspace_id,
    )
    assert [(r.conversation_id, r.target) for r in rows] == [
        (visitor, "ana@example.com"),
        (stranger, "nobody@example.com"),
    ]
    assert rows[0].contact_id is not None and rows[1].contact_id is None
    # Only a keyed hash is kept, never the code.
    assert all(len(r.code_hash) == 32 and code.encode() not in r.code_hash for r in rows)


async def test_a_phone_cannot_be_sent_a_code_and_a_bad_address_is_a_readable_error(
    client, as_user, new_owner, query, uow, policy
) -> None:
    owner = await new_owner()
    visitor = await open_chat(client, as_user, owner)
    answer = await request_identity_code(uow, visitor, "+34 612 34 56 78", policy=policy)
    assert answer == CodeRequest("cannot_send", "sms")
    with pytest.raises(InvalidContactDetail, match="not an e-mail address"):
        await request_identity_code(uow, visitor, "ana@", policy=policy)
    assert (
        await query(
            "SELECT 1 FROM conversations.identity_codes WHERE conversation_id = :id", id=visitor
        )
        == []
    )


async def test_a_conversation_asks_three_codes_an_hour_even_all_at_once(
    client, as_user, new_owner, query, uow, app, policy
) -> None:
    owner = await new_owner()
    await known_person(client, as_user, owner, "ana@example.com")
    visitor = await open_chat(client, as_user, owner)
    sessionmaker = app.state.runtime.sessionmaker
    answers = await asyncio.gather(
        *(
            request_identity_code(
                ConversationsUnitOfWork(sessionmaker), visitor, f"a{i}@example.com", policy=policy
            )
            for i in range(6)
        )
    )
    assert sorted(a.status for a in answers) == ["sent_if_known"] * 3 + ["too_many"] * 3
    answer = await request_identity_code(uow, visitor, "ana@example.com", policy=policy)
    assert answer == CodeRequest("too_many", "email")
    assert await mails_to(query, owner, "ana@example.com") == []


async def test_one_address_gets_five_codes_an_hour_however_many_chats_ask(
    client, as_user, new_owner, query, uow, policy
) -> None:
    owner = await new_owner()
    await known_person(client, as_user, owner, "ana@example.com")
    answers = []
    for target in ["ana@example.com"] * 6 + ["nobody@example.com"] * 6:
        chat = await open_chat(client, as_user, owner)
        answers.append((await request_identity_code(uow, chat, target, policy=policy)).status)
    # The same answers for a known and an unknown address.
    assert answers[:6] == answers[6:] == ["sent_if_known"] * 5 + ["too_many"]
    assert len(await mails_to(query, owner, "ana@example.com")) == 5


# --- checking a code ------------------------------------------------------------------------


async def test_the_right_code_links_the_chat_to_the_proven_contact_and_verifies_the_email(
    client, as_user, new_owner, query, uow, policy
) -> None:
    owner = await new_owner()
    earlier = await known_person(client, as_user, owner, "ana@example.com")
    ana = (await contact_of(query, earlier)).id
    visitor = await open_chat(client, as_user, owner, visitor_phone="+34612345678")
    visitor_contact = (await contact_of(query, visitor)).id
    assert await proven_contact_of(uow, visitor) is None

    await request_identity_code(uow, visitor, "ana@example.com", policy=policy)
    code = await published_code(query, owner, "ana@example.com")
    assert await verify_identity_code(uow, visitor, f" {code[:3]} {code[3:]} ", policy=policy) == (
        CodeCheck("verified", ana)
    )

    proven = await contact_of(query, visitor)
    assert proven.id == ana and proven.email == "ana@example.com"
    assert proven.email_verified_at is not None
    assert proven.phone == "+34612345678" and proven.phone_verified_at is None  # still a claim
    assert (
        await query("SELECT 1 FROM conversations.contacts WHERE id = :id", id=visitor_contact) == []
    )
    assert await proven_contact_of(uow, visitor) == ana
    # The proof is this chat's: Ana's earlier chat proved nothing.
    assert await proven_contact_of(uow, earlier) is None
    merged = await query(
        "SELECT envelope FROM conversations.outbox WHERE event_type = 'contact.merged' "
        "AND envelope->'payload'->>'merged_contact_id' = :id",
        id=str(visitor_contact),
    )
    assert [m.envelope["payload"]["contact_id"] for m in merged] == [str(ana)]
    read = await client.get(f"/api/v1/contacts/{ana}", headers=owner.headers)
    assert read.json()["email_verified"] is True
    assert {c["id"] for c in read.json()["conversations"]} == {str(earlier), str(visitor)}


async def test_the_visitors_own_contact_holding_the_email_is_verified_in_place(
    client, as_user, new_owner, query, uow, policy
) -> None:
    owner = await new_owner()
    visitor = await open_chat(client, as_user, owner, visitor_email="ana@example.com")
    mine = (await contact_of(query, visitor)).id
    await request_identity_code(uow, visitor, "ana@example.com", policy=policy)
    code = await published_code(query, owner, "ana@example.com")
    assert await verify_identity_code(uow, visitor, code, policy=policy) == CodeCheck(
        "verified", mine
    )
    assert (await contact_of(query, visitor)).email_verified_at is not None


async def test_a_used_code_cannot_be_used_again(
    client, as_user, new_owner, query, uow, policy
) -> None:
    owner = await new_owner()
    await known_person(client, as_user, owner, "ana@example.com")
    visitor = await open_chat(client, as_user, owner)
    await request_identity_code(uow, visitor, "ana@example.com", policy=policy)
    code = await published_code(query, owner, "ana@example.com")
    assert (await verify_identity_code(uow, visitor, code, policy=policy)).status == "verified"
    assert await verify_identity_code(uow, visitor, code, policy=policy) == CodeCheck("none")


async def test_five_wrong_codes_lock_it_and_then_the_right_one_is_refused(
    client, as_user, new_owner, query, uow, policy
) -> None:
    owner = await new_owner()
    known = await known_person(client, as_user, owner, "ana@example.com")
    visitor = await open_chat(client, as_user, owner)
    await request_identity_code(uow, visitor, "ana@example.com", policy=policy)
    code = await published_code(query, owner, "ana@example.com")
    statuses = [
        (await verify_identity_code(uow, visitor, other_than(code, i), policy=policy)).status
        for i in range(5)
    ]
    assert statuses == ["wrong"] * 4 + ["locked"]
    assert await verify_identity_code(uow, visitor, code, policy=policy) == CodeCheck("locked")
    assert (await contact_of(query, known)).email_verified_at is None
    assert (await contact_of(query, visitor)).id != (await contact_of(query, known)).id


async def test_an_expired_code_is_refused(
    client, as_user, new_owner, query, execute, uow, policy
) -> None:
    owner = await new_owner()
    known = await known_person(client, as_user, owner, "ana@example.com")
    visitor = await open_chat(client, as_user, owner)
    await request_identity_code(uow, visitor, "ana@example.com", policy=policy)
    code = await published_code(query, owner, "ana@example.com")
    await execute(
        "UPDATE conversations.identity_codes SET expires_at = now() - interval '1 second' "
        "WHERE conversation_id = :id",
        id=visitor,
    )
    assert await verify_identity_code(uow, visitor, code, policy=policy) == CodeCheck("expired")
    assert (await contact_of(query, known)).email_verified_at is None


async def test_no_code_asked_is_none_and_a_new_request_replaces_the_old_code(
    client, as_user, new_owner, query, uow, policy
) -> None:
    owner = await new_owner()
    await known_person(client, as_user, owner, "ana@example.com")
    visitor = await open_chat(client, as_user, owner)
    assert await verify_identity_code(uow, visitor, "123456", policy=policy) == CodeCheck("none")
    await request_identity_code(uow, visitor, "ana@example.com", policy=policy)
    first = await published_code(query, owner, "ana@example.com")
    await request_identity_code(uow, visitor, "ana@example.com", policy=policy)
    second = await published_code(query, owner, "ana@example.com", count=2)
    if first != second:
        assert (await verify_identity_code(uow, visitor, first, policy=policy)).status == "wrong"
    assert (await verify_identity_code(uow, visitor, second, policy=policy)).status == "verified"


async def test_an_attacker_typing_someone_elses_email_gets_nothing(
    client, as_user, new_owner, query, uow, policy
) -> None:
    owner = await new_owner()
    victim_chat = await known_person(client, as_user, owner, "ana@example.com")
    victim = await contact_of(query, victim_chat)
    attacker = await open_chat(client, as_user, owner, visitor_email="mallory@evil.example")
    attacker_contact = await contact_of(query, attacker)

    answer = await request_identity_code(uow, attacker, "ana@example.com", policy=policy)
    assert answer == SENT
    await published_code(query, owner, "ana@example.com")  # the code went to Ana, only to her
    assert await mails_to(query, owner, "mallory@evil.example") == []
    statuses = [
        (await verify_identity_code(uow, attacker, f"{n:06d}", policy=policy)).status
        for n in range(7)
    ]
    # Whatever the attacker typed (unless they guessed one code in a million), no proof.
    assert statuses[-2:] == ["locked", "locked"] and "verified" not in statuses
    assert await proven_contact_of(uow, attacker) is None
    assert (await contact_of(query, attacker)).id == attacker_contact.id
    assert (await contact_of(query, victim_chat)).email_verified_at is None
    assert victim.id != attacker_contact.id


async def test_an_address_claimed_earlier_by_someone_else_does_not_win_over_the_booked_contact(
    client, as_user, new_owner, query, execute, uow, policy
) -> None:
    owner = await new_owner()
    planted = await open_chat(client, as_user, owner, visitor_email="ana@example.com")
    booked = await open_chat(client, as_user, owner, visitor_email="ana@example.com")
    ana = (await contact_of(query, booked)).id
    await execute(
        "INSERT INTO conversations.reminder_bookings (workspace_id, booking_id, status, "
        "contact_id, start_at, source_updated_at) VALUES "
        "(:ws, :b, 'confirmed', :c, now() + interval '2 days', now())",
        ws=owner.workspace_id,
        b=f"bk-{uuid4().hex}",
        c=ana,
    )
    visitor = await open_chat(client, as_user, owner)
    await request_identity_code(uow, visitor, "ana@example.com", policy=policy)
    code = await published_code(query, owner, "ana@example.com")
    assert await verify_identity_code(uow, visitor, code, policy=policy) == CodeCheck(
        "verified", ana
    )
    untouched = await contact_of(query, planted)
    assert untouched.id != ana and untouched.email_verified_at is None


async def test_a_wrong_code_for_an_unknown_address_reads_like_one_for_a_known_address(
    client, as_user, new_owner, query, uow, policy
) -> None:
    owner = await new_owner()
    await known_person(client, as_user, owner, "ana@example.com")
    runs = {}
    for target in ("ana@example.com", "nobody@example.com"):
        chat = await open_chat(client, as_user, owner)
        requested = await request_identity_code(uow, chat, target, policy=policy)
        checks = [await verify_identity_code(uow, chat, "000000", policy=policy) for _ in range(6)]
        rows = await query(
            "SELECT attempts, locked_at IS NOT NULL AS locked FROM conversations.identity_codes "
            "WHERE conversation_id = :id",
            id=chat,
        )
        runs[target] = (requested, checks, [tuple(r) for r in rows])
    assert runs["ana@example.com"] == runs["nobody@example.com"]
    assert runs["nobody@example.com"][2] == [(5, True)]


# --- anonymous web chat bookings per address ------------------------------------------------


async def test_web_chat_bookings_are_counted_per_address_and_workspace_and_reset_next_day(
    client, as_user, new_owner, query, execute, uow
) -> None:
    shop, other_shop = await new_owner(), await new_owner()
    address = f"203.0.113.{uuid4().int % 250}"
    first = await open_chat(client, as_user, shop, address="10.0.0.9, " + address)
    [row] = await query(
        "SELECT client_address FROM conversations.conversations WHERE id = :id", id=first
    )
    assert row.client_address == address  # the entry the gateway added itself

    assert await webchat_booking_allowed(uow, first, limit=2)
    await record_webchat_booking(uow, first)
    second = await open_chat(client, as_user, shop, address=address)
    assert await webchat_booking_allowed(uow, second, limit=2)
    await record_webchat_booking(uow, second)
    third = await open_chat(client, as_user, shop, address=address)
    assert not await webchat_booking_allowed(uow, third, limit=2)
    assert not await webchat_booking_allowed(uow, first, limit=2)
    assert await webchat_booking_allowed(uow, third, limit=0)  # 0: no limit

    # Another address, or the same address on another business, is counted apart.
    elsewhere = await open_chat(client, as_user, shop, address="198.51.100.7")
    assert await webchat_booking_allowed(uow, elsewhere, limit=2)
    other = await open_chat(client, as_user, other_shop, address=address)
    assert await webchat_booking_allowed(uow, other, limit=2)

    [count] = await query(
        "SELECT day, bookings FROM conversations.webchat_booking_counts "
        "WHERE workspace_id = :ws AND address = :a",
        ws=shop.workspace_id,
        a=address,
    )
    assert count.bookings == 2
    # Yesterday's bookings do not count today.
    await execute(
        "UPDATE conversations.webchat_booking_counts SET day = day - 1 "
        "WHERE workspace_id = :ws AND address = :a",
        ws=shop.workspace_id,
        a=address,
    )
    assert await webchat_booking_allowed(uow, third, limit=2)


async def test_bookings_outside_web_chat_are_not_limited_by_address(
    client, new_owner, query, uow
) -> None:
    owner = await new_owner()
    # A conversation the owner recorded (a phone call): no web chat, no client address.
    recorded = await client.post(
        "/api/v1/conversations/", json={"visitor_name": "Ana"}, headers=owner.headers
    )
    assert recorded.status_code == 201, recorded.text
    conversation_id = UUID(recorded.json()["id"])
    await record_webchat_booking(uow, conversation_id)
    assert await webchat_booking_allowed(uow, conversation_id, limit=1)
    assert (
        await query(
            "SELECT 1 FROM conversations.webchat_booking_counts WHERE workspace_id = :ws",
            ws=owner.workspace_id,
        )
        == []
    )


# --- the owner's setting --------------------------------------------------------------------


async def test_require_verified_contact_on_webchat_is_read_back_patched_and_validated(
    client, new_owner
) -> None:
    owner = await new_owner()
    url = "/api/v1/agent/settings"
    assert (await client.get(url, headers=owner.headers)).json()[
        "require_verified_contact_on_webchat"
    ] is False
    changed = await client.patch(
        url, json={"require_verified_contact_on_webchat": True}, headers=owner.headers
    )
    assert changed.status_code == 200 and changed.json()["require_verified_contact_on_webchat"]
    # Other fields leave it alone.
    await client.patch(url, json={"minutes_per_reply": 3}, headers=owner.headers)
    read = (await client.get(url, headers=owner.headers)).json()
    assert read["require_verified_contact_on_webchat"] is True
    assert read["required_contact"] == "name_and_phone_or_email"
    for body in (
        {"require_verified_contact_on_webchat": "maybe"},
        {"require_verified_contact_on_webchat": [True]},
    ):
        answer = await client.patch(url, json=body, headers=owner.headers)
        assert answer.status_code == 422 and answer.json()["detail"], body
    assert (await client.get(url, headers=owner.headers)).json()[
        "require_verified_contact_on_webchat"
    ] is True
