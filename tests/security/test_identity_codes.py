"""Guessing one-time identity codes: an attacker who types a victim's e-mail in web chats.

At the use-case level (usecases/identity.py), on a real conversations service (database,
broker, relay): the agent does not yet offer codes to visitors, so no public route reaches
them. Whatever the attacker does, the victim's mailbox gets at most
IDENTITY_CODE_PER_TARGET_PER_HOUR codes an hour, each answers at most IDENTITY_CODE_ATTEMPTS
guesses, and the answers never say whether the address is known.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import text

from conversations.db.uow import ConversationsUnitOfWork
from conversations.main import create_app
from conversations.settings import Settings
from conversations.usecases.identity import (
    identity_policy,
    proven_contact_of,
    request_identity_code,
    verify_identity_code,
)
from shared.events import Envelope, WorkspaceCreatedV1
from shared.testing import (
    TEST_SECRET_KEY,
    internal_headers,
    migrated_database,
    running,
    wait_until,
)
from shared.testing import test_names as private_names  # not a test here

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "services/conversations/alembic.ini"
VICTIM = "victim@example.com"


@pytest.fixture(scope="module")
async def service() -> AsyncIterator[tuple[Any, httpx.AsyncClient, Settings]]:
    settings = Settings(
        **private_names("conversations"),
        secret_key=TEST_SECRET_KEY,
        relay_poll_seconds=0.2,
        agent_enabled=False,
        reminders_enabled=False,
    )
    async with migrated_database(settings.database_url, [ALEMBIC_INI]):
        app = create_app(settings)
        async with running(app) as client:
            yield app, client, settings


async def rows(app: Any, sql: str, **params: Any) -> list[Any]:
    async with app.state.runtime.engine.connect() as conn:
        return list(await conn.execute(text(sql), params))


async def workspace(app: Any) -> tuple[UUID, str]:
    workspace_id = uuid4()
    handle = f"ws-{workspace_id.hex[:12]}"
    event = WorkspaceCreatedV1(
        workspace_id=workspace_id,
        owner_id=uuid4(),
        handle=handle,
        name="Clinic",
        tone="friendly",
        timezone="UTC",
    )
    await app.state.runtime.bus.publish(Envelope.wrap(event, producer="workspaces"), mandatory=True)
    await wait_until(
        lambda: rows(app, "SELECT 1 FROM conversations.workspaces WHERE id = :id", id=workspace_id)
    )
    return workspace_id, handle


async def open_chat(client: httpx.AsyncClient, handle: str, **body: Any) -> UUID:
    headers = internal_headers(TEST_SECRET_KEY, "conversations", None) | {
        "X-Forwarded-For": f"198.51.100.{uuid4().int % 250}"
    }
    opened = await client.post(
        f"/api/v1/public/workspaces/{handle}/conversations", json=body, headers=headers
    )
    assert opened.status_code == 201, opened.text
    return UUID(opened.json()["conversation_id"])


async def test_an_attacker_gets_a_bounded_number_of_guesses_and_no_proof(service) -> None:
    app, client, settings = service
    policy = identity_policy(settings)
    workspace_id, handle = await workspace(app)
    victim_chat = await open_chat(client, handle, visitor_name="Vic", visitor_email=VICTIM)
    uow = ConversationsUnitOfWork(app.state.runtime.sessionmaker)

    answers, checks = [], []
    for _ in range(12):  # a new chat for every try, to dodge the per-chat limit
        chat = await open_chat(client, handle)
        answers.append((await request_identity_code(uow, chat, VICTIM, policy=policy)).status)
        for n in range(policy.attempts + 2):
            check = await verify_identity_code(uow, chat, f"{n * 7919 % 10**6:06d}", policy=policy)
            checks.append(check.status)
            assert check.contact_id is None
        assert await proven_contact_of(uow, chat) is None

    per_hour = policy.per_target_per_hour
    assert answers == ["sent_if_known"] * per_hour + ["too_many"] * (12 - per_hour)

    # Every code the victim got went to the victim only, and through the outbox.
    async def mailed() -> list[Any] | None:
        found = await rows(
            app,
            "SELECT envelope->'payload'->>'to' AS to, published_at FROM conversations.outbox "
            "WHERE event_type = 'notification.email_requested' "
            "AND envelope->'payload'->>'workspace_id' = :ws",
            ws=str(workspace_id),
        )
        return found if len(found) == per_hour and all(r.published_at for r in found) else None

    assert {r.to for r in await wait_until(mailed)} == {VICTIM}

    # Guesses compared against a real code: at most attempts x codes, then locked.
    [counted] = await rows(
        app,
        "SELECT sum(attempts) AS tries, count(*) FILTER (WHERE locked_at IS NOT NULL) AS locked "
        "FROM conversations.identity_codes WHERE workspace_id = :ws",
        ws=str(workspace_id),
    )
    assert (counted.tries, counted.locked) == (per_hour * policy.attempts, per_hour)
    assert "verified" not in checks
    [victim] = await rows(
        app,
        "SELECT k.email_verified_at FROM conversations.contacts k "
        "JOIN conversations.conversations c ON c.contact_id = k.id WHERE c.id = :id",
        id=victim_chat,
    )
    assert victim.email_verified_at is None


async def test_the_right_code_after_the_lock_and_a_known_code_in_another_chat_are_refused(
    service,
) -> None:
    app, client, settings = service
    policy = identity_policy(settings)
    workspace_id, handle = await workspace(app)
    await open_chat(client, handle, visitor_email=VICTIM)
    uow = ConversationsUnitOfWork(app.state.runtime.sessionmaker)
    attacker, other = await open_chat(client, handle), await open_chat(client, handle)
    await request_identity_code(uow, attacker, VICTIM, policy=policy)

    async def the_code() -> str | None:
        found = await rows(
            app,
            "SELECT envelope->'payload'->>'text' AS body FROM conversations.outbox "
            "WHERE event_type = 'notification.email_requested' "
            "AND envelope->'payload'->>'workspace_id' = :ws",
            ws=str(workspace_id),
        )
        match = re.search(r"\b(\d{6})\b", found[0].body) if found else None
        return match.group(1) if match else None

    code = await wait_until(the_code)
    # A code belongs to the chat that asked for it: another chat cannot use it.
    assert (await verify_identity_code(uow, other, code, policy=policy)).status == "none"
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(policy.attempts):
        await verify_identity_code(uow, attacker, wrong, policy=policy)
    assert (await verify_identity_code(uow, attacker, code, policy=policy)).status == "locked"
    assert await proven_contact_of(uow, attacker) is None
