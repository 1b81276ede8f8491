"""Contacts: the people behind the owner's conversations."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from conversations.api.deps import UowDep
from conversations.api.schemas import (
    ContactConversationRead,
    ContactDetailRead,
    ContactIdentityRead,
    ContactMerge,
    ContactRead,
    ContactUpdate,
)
from conversations.bookings import BookingsReader
from conversations.usecases.access import owner_workspace
from conversations.usecases.contacts import (
    ContactView,
    merge_contacts,
    read_contact,
    update_contact,
)
from shared.web import Page, PaginationDep, PrincipalDep

router = APIRouter(prefix="/contacts", tags=["contacts"])


@router.get("/", response_model=Page[ContactRead])
async def list_contacts(
    principal: PrincipalDep,
    uow: UowDep,
    page: PaginationDep,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="Text in the name, phone or e-mail"),
    ] = None,
) -> Page[ContactRead]:
    """The workspace's contacts, most recently changed first."""
    async with uow:
        workspace = await owner_workspace(uow, principal)
        rows, count = await uow.contacts.page(workspace.id, q, page.skip, page.limit)
        return Page(data=[ContactRead.model_validate(r) for r in rows], count=count)


def _detail(
    view: ContactView, bookings: list[dict[str, Any]] | None, note: str | None
) -> ContactDetailRead:
    base = ContactRead.model_validate(view.contact).model_dump()
    return ContactDetailRead(
        **base,
        identities=[ContactIdentityRead.model_validate(i) for i in view.identities],
        conversations=[ContactConversationRead.model_validate(c) for c in view.conversations],
        bookings=bookings,
        bookings_note=note,
    )


@router.get("/{contact_id}", response_model=ContactDetailRead)
async def read(
    contact_id: uuid.UUID, principal: PrincipalDep, uow: UowDep, request: Request
) -> ContactDetailRead:
    """The contact with its channel identities, its conversations and its bookings (read
    from the connectors service; `bookings: null` with a note when they cannot be read)."""
    view, owner_id = await read_contact(uow, principal, contact_id)
    reader: BookingsReader = request.app.state.bookings_reader
    found = await reader.for_contact(owner_id, view.contact.id)
    return _detail(view, found.bookings, found.note)


@router.patch("/{contact_id}", response_model=ContactRead)
async def patch(
    contact_id: uuid.UUID, body: ContactUpdate, principal: PrincipalDep, uow: UowDep
) -> ContactRead:
    """Correct name, phone or e-mail; `null` (or an empty string) clears one. A changed phone
    or e-mail is unverified."""
    changes = {k: (v or None) for k, v in body.model_dump(exclude_unset=True).items()}
    contact = await update_contact(uow, principal, contact_id, changes)
    return ContactRead.model_validate(contact)


@router.post("/{contact_id}/merge", response_model=ContactRead)
async def merge(
    contact_id: uuid.UUID, body: ContactMerge, principal: PrincipalDep, uow: UowDep
) -> ContactRead:
    """The same person twice: `other_id`'s identities and conversations move to this
    contact and `other_id` is deleted, in one transaction. Each detail keeps the better
    value (verified over unverified, a value over none, else the more recent)."""
    contact = await merge_contacts(uow, principal, contact_id, body.other_id)
    return ContactRead.model_validate(contact)
