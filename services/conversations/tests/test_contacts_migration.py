"""Migration 0009 gives every existing conversation a contact of its own."""

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from shared import testing
from shared.db.migrations import drop_database, ensure_database, upgrade
from shared.settings import plain_database_url

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
BEFORE_CONTACTS = "0006"  # the revision 0009 follows


async def test_existing_conversations_get_contacts_with_their_phone_and_email() -> None:
    url = testing.test_names("conversations_0009")["database_url"]
    await ensure_database(url)
    try:
        await asyncio.to_thread(upgrade, ALEMBIC_INI, url, BEFORE_CONTACTS)
        conn = await asyncpg.connect(plain_database_url(make_url(url).render_as_string(False)))
        try:
            workspace = uuid.uuid4()
            now = datetime.now(UTC)
            await conn.execute(
                "INSERT INTO conversations.workspaces (id, owner_id, handle, timezone, "
                "source_updated_at) VALUES ($1, $2, 'acme', 'UTC', $3)",
                workspace,
                uuid.uuid4(),
                now,
            )
            rows = [
                ("whatsapp", "34612345678", "Ana", None),
                ("sms", "+14155550100", None, "+14155550100"),
                ("web", "web:abc", "Marta", " Marta@Example.COM "),
                ("messenger", "psid-1", None, "not an address"),
                ("sms", "22395", None, None),  # a short code
            ]
            for channel, visitor, name, typed in rows:
                await conn.execute(
                    "INSERT INTO conversations.conversations (id, workspace_id, channel, "
                    "visitor_id, visitor_name, visitor_contact, started_at, last_activity_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                    uuid.uuid4(),
                    workspace,
                    channel,
                    visitor,
                    name,
                    typed,
                    now,
                )
        finally:
            await conn.close()

        await asyncio.to_thread(upgrade, ALEMBIC_INI, url, "head")

        conn = await asyncpg.connect(plain_database_url(make_url(url).render_as_string(False)))
        try:
            found = await conn.fetch(
                "SELECT i.channel, i.external_id, c.name, c.phone, "
                "c.phone_verified_at IS NOT NULL AS verified, c.email, "
                "v.contact_id = c.id AS linked "
                "FROM conversations.contact_identities i "
                "JOIN conversations.contacts c ON c.id = i.contact_id "
                "JOIN conversations.conversations v ON v.workspace_id = i.workspace_id "
                "AND v.channel = i.channel AND v.visitor_id = i.external_id "
                "ORDER BY i.channel, i.external_id"
            )
            contacts = await conn.fetchval("SELECT count(*) FROM conversations.contacts")
        finally:
            await conn.close()
    finally:
        await drop_database(url)

    assert contacts == len(rows)
    assert [tuple(r) for r in found] == [
        ("messenger", "psid-1", None, None, False, None, True),
        ("sms", "+14155550100", None, "+14155550100", True, None, True),
        ("sms", "22395", None, None, False, None, True),
        ("web", "web:abc", "Marta", None, False, "Marta@example.com", True),
        ("whatsapp", "34612345678", "Ana", "+34612345678", True, None, True),
    ]
