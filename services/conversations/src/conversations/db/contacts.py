"""Contacts: queries and writes of `contacts` and `contact_identities`.

The rules (normalising, what a change resets, what a merge keeps) are in
`conversations/domain/contacts.py`; this module runs them against the database.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.ext.asyncio import AsyncSession

from conversations.db.models import Contact, ContactIdentity, Conversation, Workspace
from conversations.domain import contacts as rules
from conversations.domain.errors import ContactNotFound
from shared.events import ContactUpdatedV1, Envelope, Event

# Find the contact of a channel identity, or create both, in one statement: the inbound path
# is hot. The identity goes in first (its primary key is the arbiter): of two first messages
# of one person at once, the second waits for the first's commit and gets its contact, so
# it never creates one of its own. A WhatsApp or SMS number the channel verified joins the
# contact that already has that verified phone. The contact row is inserted in the same
# statement, so the identity's foreign key holds when it is checked, at the statement's end.
_FOR_IDENTITY = text(
    """
WITH found AS (
    SELECT coalesce(
        (SELECT id FROM conversations.contacts
          WHERE workspace_id = :workspace_id AND phone = :verified_phone
            AND phone_verified_at IS NOT NULL
          ORDER BY created_at, id LIMIT 1),
        :new_id) AS contact_id
), identity AS (
    INSERT INTO conversations.contact_identities (workspace_id, channel, external_id, contact_id)
    SELECT :workspace_id, :channel, :external_id, found.contact_id FROM found
    ON CONFLICT (workspace_id, channel, external_id)
    DO UPDATE SET contact_id = contact_identities.contact_id
    RETURNING contact_id
), created AS (
    INSERT INTO conversations.contacts
        (id, workspace_id, name, phone, email, phone_verified_at, created_at, updated_at)
    SELECT :new_id, :workspace_id, :name, :phone, :email,
           CASE WHEN :verified_phone IS NOT NULL THEN now() END, now(), now()
    FROM identity WHERE identity.contact_id = :new_id
    RETURNING id
)
SELECT identity.contact_id, EXISTS (SELECT 1 FROM created) AS created FROM identity
"""
).bindparams(
    bindparam("workspace_id", type_=PGUUID(as_uuid=True)),
    bindparam("new_id", type_=PGUUID(as_uuid=True)),
)


@dataclass(frozen=True, slots=True)
class NewContact:
    """What a conversation's start tells about its person (already normalised)."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    # The phone is the channel's own proof (the person wrote from it): WhatsApp, SMS.
    phone_verified: bool = False


@dataclass(frozen=True, slots=True)
class ContactConversation:
    id: uuid.UUID
    channel: str
    status: str
    last_message_at: datetime | None
    started_at: datetime


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def details_of(contact: Contact) -> rules.Details:
    return rules.Details(
        name=contact.name,
        phone=contact.phone,
        email=contact.email,
        phone_verified_at=contact.phone_verified_at,
        email_verified_at=contact.email_verified_at,
    )


def _write(contact: Contact, details: rules.Details) -> None:
    contact.name = details.name
    contact.phone = details.phone
    contact.email = details.email
    contact.phone_verified_at = details.phone_verified_at
    contact.email_verified_at = details.email_verified_at


def updated_event(contact: Contact, changed: tuple[rules.Field, ...]) -> ContactUpdatedV1:
    return ContactUpdatedV1(
        contact_id=contact.id,
        workspace_id=contact.workspace_id,
        name=contact.name,
        phone=contact.phone,
        email=contact.email,
        phone_verified=contact.phone_verified,
        email_verified=contact.email_verified,
        changed=list(changed),
        updated_at=contact.updated_at,
    )


class ContactsRepository:
    def __init__(self, session: AsyncSession, emit: Callable[[Event], Awaitable[Envelope]]):
        self.session = session
        # The unit of work's outbox: a change made through this repository is announced in
        # the same transaction (contact.updated), whoever makes it (owner API or agent).
        self._emit = emit

    async def for_identity(
        self, workspace_id: uuid.UUID, channel: str, external_id: str, new: NewContact
    ) -> tuple[uuid.UUID, bool]:
        """The contact of this identity, created with `new` when there is none yet:
        (contact id, created)."""
        row = (
            await self.session.execute(
                _FOR_IDENTITY,
                {
                    "workspace_id": workspace_id,
                    "channel": channel,
                    "external_id": external_id,
                    "new_id": uuid.uuid4(),
                    "name": new.name,
                    "phone": new.phone,
                    "email": new.email,
                    "verified_phone": new.phone if new.phone_verified else None,
                },
            )
        ).one()
        return row.contact_id, row.created

    async def get(
        self, workspace_id: uuid.UUID, contact_id: uuid.UUID, lock: bool = False
    ) -> Contact | None:
        stmt = select(Contact).where(Contact.id == contact_id, Contact.workspace_id == workspace_id)
        if lock:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def for_conversation(self, conversation_id: uuid.UUID) -> Contact:
        """The person a conversation belongs to (every conversation has one)."""
        contact = await self.session.scalar(
            select(Contact)
            .join(Conversation, Conversation.contact_id == Contact.id)
            .where(Conversation.id == conversation_id)
        )
        if contact is None:
            raise ContactNotFound("No conversation with this id")
        return contact

    async def update_details(
        self,
        contact_id: uuid.UUID,
        *,
        name: str | None = rules.UNSET,
        phone: str | None = rules.UNSET,
        email: str | None = rules.UNSET,
        verified: bool = False,
    ) -> Contact:
        """Change what is given (None clears it), as typed: the name is tidied, a phone
        read in the workspace's country when it has no `+`, an e-mail normalised
        (InvalidContactDetail for a bad one). A new phone or e-mail is a claim unless
        `verified` (a one-time code proved it now). Emits `contact.updated` when something
        changed; the caller commits."""
        row = (
            await self.session.execute(
                select(Contact, Workspace.phone)
                .join(Workspace, Workspace.id == Contact.workspace_id)
                .where(Contact.id == contact_id)
                .with_for_update(of=Contact)
            )
        ).first()
        if row is None:
            raise ContactNotFound("Contact not found")
        contact, workspace_phone = row
        region = rules.region_of(workspace_phone)
        values: dict[str, Any] = {}
        if name is not rules.UNSET:
            values["name"] = rules.normalize_name(name) if name is not None else None
        if phone is not rules.UNSET:
            values["phone"] = rules.normalize_phone(phone, region) if phone is not None else None
        if email is not rules.UNSET:
            values["email"] = rules.normalize_email(email) if email is not None else None
        details, changed = rules.change_details(
            details_of(contact), datetime.now(UTC), verified=verified, **values
        )
        if changed:
            _write(contact, details)
            contact.updated_at = datetime.now(UTC)
            await self.session.flush()
            await self._emit(updated_event(contact, changed))
        return contact

    async def page(
        self, workspace_id: uuid.UUID, q: str | None, skip: int, limit: int
    ) -> tuple[list[Contact], int]:
        stmt = select(Contact).where(Contact.workspace_id == workspace_id)
        if q:
            pattern = f"%{_escape_like(q.strip())}%"
            matches = [
                Contact.name.ilike(pattern, escape="\\"),
                Contact.email.ilike(pattern, escape="\\"),
                Contact.phone.like(pattern, escape="\\"),
            ]
            # "+1 (415) 555" finds +1415555...: phones are stored as digits after a '+'.
            digits = re.sub(r"\D", "", q)
            if len(digits) >= 3:
                matches.append(Contact.phone.like(f"%{digits}%"))
            stmt = stmt.where(or_(*matches))
        count = await self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = await self.session.scalars(
            stmt.order_by(Contact.updated_at.desc(), Contact.id.desc()).offset(skip).limit(limit)
        )
        return list(rows), count

    async def identities(self, contact_id: uuid.UUID) -> list[ContactIdentity]:
        rows = await self.session.scalars(
            select(ContactIdentity)
            .where(ContactIdentity.contact_id == contact_id)
            .order_by(ContactIdentity.created_at, ContactIdentity.channel)
        )
        return list(rows)

    async def conversations(self, contact_id: uuid.UUID) -> list[ContactConversation]:
        rows = await self.session.execute(
            select(
                Conversation.id,
                Conversation.channel,
                Conversation.status,
                Conversation.last_message_at,
                Conversation.started_at,
            )
            .where(Conversation.contact_id == contact_id)
            .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        )
        return [ContactConversation(*row) for row in rows]

    async def lock_identities(
        self, workspace_id: uuid.UUID, contact_ids: tuple[uuid.UUID, ...]
    ) -> None:
        """Lock these contacts' identities, in one order. A conversation starting takes its
        identity's row before its contact's (for_identity, then the conversation's foreign
        key), so a merge that locks the identities first waits for it instead of
        deadlocking with it."""
        await self.session.execute(
            select(ContactIdentity.external_id)
            .where(
                ContactIdentity.workspace_id == workspace_id,
                ContactIdentity.contact_id.in_(contact_ids),
            )
            .order_by(
                ContactIdentity.workspace_id, ContactIdentity.channel, ContactIdentity.external_id
            )
            .with_for_update()
        )

    async def merge(self, keep: Contact, other: Contact, details: rules.Details) -> list[uuid.UUID]:
        """Move the other's identities and conversations to `keep`, delete the other; the
        caller holds both rows locked. Returns the conversations moved."""
        moved = await self.session.scalars(
            update(Conversation)
            .where(Conversation.contact_id == other.id)
            .values(contact_id=keep.id)
            .returning(Conversation.id)
            .execution_options(synchronize_session=False)
        )
        conversation_ids = list(moved)
        await self.session.execute(
            update(ContactIdentity)
            .where(ContactIdentity.contact_id == other.id)
            .values(contact_id=keep.id)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            delete(Contact)
            .where(Contact.id == other.id)
            .execution_options(synchronize_session=False)
        )
        _write(keep, details)
        keep.updated_at = datetime.now(UTC)
        await self.session.flush()
        return conversation_ids

    async def purge_workspace(self, workspace_id: uuid.UUID) -> list[uuid.UUID]:
        """Delete a workspace's contacts (its conversations must be gone); their ids."""
        deleted = await self.session.scalars(
            delete(Contact)
            .where(Contact.workspace_id == workspace_id)
            .returning(Contact.id)
            .execution_options(synchronize_session=False)
        )
        return list(deleted)
