"""Proving who a web chat visitor is, and limiting anonymous web chat bookings.

An e-mail typed in a chat is a claim. `request_identity_code` sends a one-time code to the
address when a contact of the workspace holds it, and answers the same whether or not one
does: the visitor (or an attacker typing someone else's address) learns nothing about who
has bookings, and a code only ever reaches the address itself. `verify_identity_code` checks
the code in constant time; the right one links the conversation to the proven contact and
marks the e-mail verified. The proof counts for this conversation only
(`proven_contact_of`): the agent acts on a contact's other bookings in a web chat only when
this chat proved it.

Codes go by e-mail only: an SMS code would be an outbound message to a number that has no
conversation yet, which the delivery path does not send; a phone is answered `cannot_send`.

The agent calls these with the policy built from the service's settings
(`identity_policy(settings)`); each opens and commits its own transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from sqlalchemy import select

from conversations.db.identity import IdentityRepository
from conversations.db.models import Conversation, IdentityCode
from conversations.db.uow import ConversationsUnitOfWork
from conversations.domain import contacts as contact_rules
from conversations.domain import identity as rules
from conversations.domain.errors import ConversationNotFound
from conversations.domain.identity import CheckStatus, IdentityPolicy
from conversations.settings import Settings
from conversations.usecases.contacts import merge_into
from shared.events import NotificationEmailRequestedV1

__all__ = [
    "CodeCheck",
    "CodeRequest",
    "IdentityPolicy",
    "claim_email",
    "identity_policy",
    "proven_contact_of",
    "record_webchat_booking",
    "request_identity_code",
    "verify_identity_code",
    "webchat_booking_allowed",
]

RequestStatus = Literal["sent_if_known", "cannot_send", "too_many"]
CodeChannel = Literal["email", "sms"]


@dataclass(frozen=True, slots=True)
class CodeRequest:
    """What the agent may tell the visitor: "if this address is on a booking, a code is on
    its way" (the same whether or not it is), "we cannot send codes there", or "too many
    codes asked for; try later"."""

    status: RequestStatus
    channel: CodeChannel


@dataclass(frozen=True, slots=True)
class CodeCheck:
    status: CheckStatus
    contact_id: uuid.UUID | None = None  # set when "verified"


def identity_policy(settings: Settings) -> IdentityPolicy:
    key = settings.identity_code_key or settings.token_key("conversations", "conversations")
    return IdentityPolicy(
        # A key of its own, derived, so a code's hash never doubles as a token signature.
        key=hmac.new(key.encode(), b"identity-codes", hashlib.sha256).digest(),
        ttl_seconds=settings.identity_code_ttl_seconds,
        attempts=settings.identity_code_attempts,
        requests_per_hour=settings.identity_code_requests_per_hour,
        per_target_per_hour=settings.identity_code_per_target_per_hour,
    )


async def _conversation(
    uow: ConversationsUnitOfWork, conversation_id: uuid.UUID, lock: bool = False
) -> Conversation:
    stmt = select(Conversation).where(Conversation.id == conversation_id)
    if lock:
        stmt = stmt.with_for_update()
    conversation: Conversation | None = await uow.session.scalar(stmt)
    if conversation is None:
        raise ConversationNotFound("Conversation not found")
    return conversation


def _email(business: str, code: str, minutes: int) -> tuple[str, str]:
    subject = f"Your code for {business}"
    text = (
        f"Your code is {code}\n\n"
        f"Give it in your chat with {business} to confirm this e-mail address is yours. "
        f"It works once, for {minutes} minutes.\n\n"
        "If you did not ask for it, ignore this e-mail: without the code nobody can act "
        "on your bookings."
    )
    return subject, text


async def request_identity_code(
    uow: ConversationsUnitOfWork,
    conversation_id: uuid.UUID,
    typed: str,
    *,
    policy: IdentityPolicy,
) -> CodeRequest:
    """A code to the e-mail the visitor says is on their booking, if a contact of the
    workspace holds it. Raises InvalidContactDetail when `typed` is no e-mail or phone (ask
    again) and ConversationNotFound."""
    async with uow:
        # The conversation's row serialises its requests, so its hourly count holds.
        conversation = await _conversation(uow, conversation_id, lock=True)
        workspace = await uow.workspaces.get(conversation.workspace_id)
        if workspace is None:
            raise ConversationNotFound("Conversation not found")
        if "@" in typed:
            channel: CodeChannel = "email"
            # Mail providers ignore case, and so does a contact's e-mail here.
            target = contact_rules.normalize_email(typed).lower()
        else:
            channel = "sms"
            target = contact_rules.normalize_phone(typed, contact_rules.region_of(workspace.phone))
        if channel == "sms":
            return CodeRequest("cannot_send", channel)
        repo = IdentityRepository(uow.session)
        now = datetime.now(UTC)
        hour_ago = now - timedelta(hours=1)
        if await repo.requests_since(conversation.id, hour_ago) >= policy.requests_per_hour:
            return CodeRequest("too_many", channel)
        # Counted for known and unknown targets alike: one address gets a few codes an hour
        # however many chats ask, and the answer tells nothing about who holds it.
        await repo.lock_target(workspace.id, target)
        if (
            await repo.target_requests_since(workspace.id, target, hour_ago)
            >= policy.per_target_per_hour
        ):
            return CodeRequest("too_many", channel)
        holder = await repo.holder(workspace.id, channel, target)
        code_id = uuid.uuid4()
        code = rules.new_code()
        uow.session.add(
            IdentityCode(
                id=code_id,
                workspace_id=workspace.id,
                conversation_id=conversation.id,
                contact_id=holder.id if holder is not None else None,
                channel=channel,
                target=target,
                code_hash=(
                    rules.code_hash(policy.key, code_id, code)
                    if holder is not None
                    else rules.unmatchable_hash(policy.key, code_id)
                ),
                expires_at=now + timedelta(seconds=policy.ttl_seconds),
                created_at=now,
            )
        )
        await uow.session.flush()
        if holder is not None:
            subject, text = _email(
                workspace.name or workspace.handle, code, max(1, policy.ttl_seconds // 60)
            )
            # To the address on file (the same mailbox as the one typed).
            await uow.emit(
                NotificationEmailRequestedV1(
                    workspace_id=workspace.id, to=holder.email or target, subject=subject, text=text
                )
            )
        await uow.commit()
        return CodeRequest("sent_if_known", channel)


async def claim_email(uow: ConversationsUnitOfWork, conversation_id: uuid.UUID, typed: str) -> None:
    """The visitor says this e-mail is theirs: kept on the chat's contact as a claim (not
    verified) when the contact has none, so a code can prove it. Raises InvalidContactDetail."""
    async with uow:
        conversation = await _conversation(uow, conversation_id)
        if conversation.contact_id is None:
            return
        contact = await uow.contacts.get(conversation.workspace_id, conversation.contact_id)
        if contact is None or contact.email:
            return
        await uow.contacts.update_details(contact.id, email=typed)
        await uow.commit()


async def verify_identity_code(
    uow: ConversationsUnitOfWork,
    conversation_id: uuid.UUID,
    code: str,
    *,
    policy: IdentityPolicy,
) -> CodeCheck:
    """Check the conversation's newest code. Right: the conversation joins the proven
    contact (its own contact merged into it, by the owner's merge rules) and the e-mail is
    marked verified. Wrong: one attempt used; the last allowed one locks the code. A code
    for an address nobody holds is wrong whatever is typed, by the same steps."""
    async with uow:
        conversation = await _conversation(uow, conversation_id, lock=True)
        repo = IdentityRepository(uow.session)
        row = await repo.latest(conversation.id)
        now = datetime.now(UTC)
        state = (
            rules.CodeState(row.expires_at, row.attempts, row.locked_at, row.used_at)
            if row is not None
            else None
        )
        refused = rules.standing(state, now)
        if refused is not None or row is None:
            return CodeCheck(refused or "none")
        if not rules.matches(policy.key, row.id, code, row.code_hash):
            row.attempts, locked = rules.after_wrong(row.attempts, policy.attempts)
            if locked:
                row.locked_at = now
            await uow.commit()
            return CodeCheck("locked" if locked else "wrong")
        row.used_at = now
        proven = row.contact_id
        holder = await uow.contacts.get(conversation.workspace_id, proven) if proven else None
        target_field = "email" if row.channel == "email" else "phone"
        held = getattr(holder, target_field, None) if holder is not None else None
        if holder is None or not held or held.lower() != row.target.lower():
            # The contact went away (or its owner changed the address) since the code left.
            await uow.commit()
            return CodeCheck("none")
        if conversation.contact_id != holder.id:
            await merge_into(uow, conversation.workspace_id, holder.id, conversation.contact_id)
            await uow.session.refresh(conversation)
        await uow.contacts.update_details(holder.id, verified=True, **{target_field: held})
        await uow.commit()
        return CodeCheck("verified", holder.id)


async def proven_contact_of(
    uow: ConversationsUnitOfWork, conversation_id: uuid.UUID
) -> uuid.UUID | None:
    """The contact this conversation proved with a code (None: nothing proven here). A
    contact's verified e-mail alone proves nothing about a chat: another chat may have
    claimed the same address."""
    async with uow:
        return await IdentityRepository(uow.session).proven_contact(conversation_id)


def _utc_day() -> date:
    return datetime.now(UTC).date()


async def webchat_booking_allowed(
    uow: ConversationsUnitOfWork, conversation_id: uuid.UUID, *, limit: int
) -> bool:
    """May the agent book in this conversation under WEBCHAT_BOOKINGS_PER_ADDRESS_PER_DAY
    (`limit`, 0 = no limit)? Counts the workspace's bookings from the chat's client address
    today (UTC). Only web chats with a known address are limited."""
    async with uow:
        conversation = await _conversation(uow, conversation_id)
        if limit <= 0 or conversation.channel != "web" or not conversation.client_address:
            return True
        done = await IdentityRepository(uow.session).webchat_bookings(
            conversation.workspace_id, conversation.client_address, _utc_day()
        )
        return done < limit


async def record_webchat_booking(uow: ConversationsUnitOfWork, conversation_id: uuid.UUID) -> None:
    """The agent booked in this conversation: one more for its address today (web chats
    with a known address only)."""
    async with uow:
        conversation = await _conversation(uow, conversation_id)
        if conversation.channel != "web" or not conversation.client_address:
            return
        await IdentityRepository(uow.session).count_webchat_booking(
            conversation.workspace_id, conversation.client_address, _utc_day()
        )
        await uow.commit()
