"""Contacts: found or created when a conversation starts; the owner reads, corrects, merges."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conversations.db.contacts import (
    ContactConversation,
    NewContact,
    details_of,
    updated_event,
)
from conversations.db.models import Contact, ContactIdentity
from conversations.db.uow import ConversationsUnitOfWork
from conversations.domain import contacts as rules
from conversations.domain.errors import ContactNotFound
from conversations.usecases.access import owner_workspace
from shared.events import ContactCreatedV1, ContactDeletedV1, ContactMergedV1
from shared.tokens import Principal


async def contact_for_visitor(
    uow: ConversationsUnitOfWork,
    workspace_id: uuid.UUID,
    channel: str,
    visitor_id: str,
    *,
    name: str | None = None,
    typed_contact: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    default_region: str | None = None,
    channel_verified: bool = False,
) -> uuid.UUID:
    """The contact of a conversation about to start: found by its channel identity, else
    created (announced by `contact.created`). With `channel_verified`, a WhatsApp or SMS
    visitor id is the person's phone, proven by the channel; whatever was typed (`email`,
    `phone` already normalised, or a free `typed_contact`) is kept as a claim."""
    proven = rules.channel_phone(channel, visitor_id) if channel_verified else None
    claimed = rules.read_typed_contact(typed_contact, default_region)
    new = NewContact(
        name=rules.normalize_name(name[: rules.NAME_MAX]) if name else None,
        phone=proven or phone or claimed.phone,
        email=email or claimed.email,
        phone_verified=proven is not None,
    )
    contact_id, created = await uow.contacts.for_identity(workspace_id, channel, visitor_id, new)
    if created:
        await uow.emit(
            ContactCreatedV1(
                contact_id=contact_id,
                workspace_id=workspace_id,
                name=new.name,
                phone=new.phone,
                email=new.email,
                phone_verified=new.phone_verified,
                email_verified=False,
                channel=channel,
                created_at=datetime.now(UTC),
            )
        )
    return contact_id


@dataclass(frozen=True, slots=True)
class ContactView:
    contact: Contact
    identities: list[ContactIdentity]
    conversations: list[ContactConversation]


async def read_contact(
    uow: ConversationsUnitOfWork, principal: Principal, contact_id: uuid.UUID
) -> tuple[ContactView, uuid.UUID]:
    """The contact with its identities and conversations, and the owner id its bookings are
    read for."""
    async with uow:
        workspace = await owner_workspace(uow, principal)
        contact = await uow.contacts.get(workspace.id, contact_id)
        if contact is None:
            raise ContactNotFound("Contact not found")
        view = ContactView(
            contact,
            await uow.contacts.identities(contact.id),
            await uow.contacts.conversations(contact.id),
        )
        return view, workspace.owner_id


async def update_contact(
    uow: ConversationsUnitOfWork,
    principal: Principal,
    contact_id: uuid.UUID,
    changes: dict[str, Any],
) -> Contact:
    """The owner's correction of name, phone or e-mail: typed values, so a changed phone or
    e-mail is a claim again (its verification is reset)."""
    async with uow:
        workspace = await owner_workspace(uow, principal)
        if await uow.contacts.get(workspace.id, contact_id) is None:
            raise ContactNotFound("Contact not found")
        contact = await uow.contacts.update_details(contact_id, **changes)
        await uow.commit()
        return contact


async def merge_contacts(
    uow: ConversationsUnitOfWork,
    principal: Principal,
    contact_id: uuid.UUID,
    other_id: uuid.UUID,
) -> Contact:
    """`other_id` joins `contact_id`: its identities and conversations move, it is deleted,
    and the kept contact takes the better of each detail (domain.contacts.merged_details)."""
    async with uow:
        workspace = await owner_workspace(uow, principal)
        # Another owner's contact is a 404 whatever the body says.
        if contact_id == other_id and await uow.contacts.get(workspace.id, contact_id) is None:
            raise ContactNotFound("Contact not found")
        rules.check_merge(contact_id, other_id)
        keep = await merge_into(uow, workspace.id, contact_id, other_id)
        await uow.commit()
        return keep


async def merge_into(
    uow: ConversationsUnitOfWork,
    workspace_id: uuid.UUID,
    contact_id: uuid.UUID,
    other_id: uuid.UUID,
) -> Contact:
    """The merge itself, in the caller's transaction: `other_id` joins `contact_id` (both of
    this workspace, different), with `contact.merged` and, when the kept details changed,
    `contact.updated`. The owner's merge and a proven identity (usecases/identity.py) use it."""
    # Identities, then both contacts, each in one order: two opposite merges, or a merge
    # and a conversation starting, wait for each other instead of deadlocking.
    await uow.contacts.lock_identities(workspace_id, (contact_id, other_id))
    locked = {}
    for cid in sorted((contact_id, other_id)):
        locked[cid] = await uow.contacts.get(workspace_id, cid, lock=True)
    keep, other = locked[contact_id], locked[other_id]
    if keep is None:
        raise ContactNotFound("Contact not found")
    if other is None:
        raise ContactNotFound("The contact to merge (other_id) was not found")
    details = rules.merged_details(
        rules.Side(details_of(keep), keep.updated_at),
        rules.Side(details_of(other), other.updated_at),
    )
    before = details_of(keep)
    changed = tuple(
        f
        for f in rules.FIELDS
        if (getattr(details, f), getattr(details, f"{f}_verified_at", None))
        != (getattr(before, f), getattr(before, f"{f}_verified_at", None))
    )
    moved = await uow.contacts.merge(keep, other, details)
    now = datetime.now(UTC)
    await uow.emit(
        ContactMergedV1(
            contact_id=keep.id,
            merged_contact_id=other_id,
            workspace_id=workspace_id,
            conversation_ids=moved,
            merged_at=now,
        )
    )
    if changed:
        await uow.emit(updated_event(keep, changed))
    return keep


async def remove_workspace_contacts(uow: ConversationsUnitOfWork, workspace_id: uuid.UUID) -> int:
    """With its workspace (its conversations already gone): delete the contacts, one
    `contact.deleted` each. Runs in the caller's transaction."""
    deleted = await uow.contacts.purge_workspace(workspace_id)
    now = datetime.now(UTC)
    for contact_id in deleted:
        await uow.emit(
            ContactDeletedV1(
                contact_id=contact_id,
                workspace_id=workspace_id,
                reason="workspace_deleted",
                deleted_at=now,
            )
        )
    return len(deleted)
