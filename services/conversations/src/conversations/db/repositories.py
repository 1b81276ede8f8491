"""Repositories: every query of the service, each holding the unit of work's session."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    DateTime,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import inspect as mapped
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from conversations.db.models import (
    ChannelAccount,
    Conversation,
    Message,
    UnroutedMessage,
    Workspace,
)
from shared.db.raw import Prepared, Raw, Row

# The statements every inbound message runs, built once and executed with parameters:
# building them with their values on every message cost more CPU than running them.
_LIVE_WORKSPACE = select(Workspace).where(
    Workspace.id == bindparam("workspace_id"), Workspace.deleted.is_(False)
)
# Only a verified claim routes (the literal lets Postgres use the partial unique index).
_ROUTE = select(ChannelAccount.workspace_id, ChannelAccount.id).where(
    ChannelAccount.channel == bindparam("channel"),
    ChannelAccount.account_id == bindparam("account_id"),
    text("conversations.channel_accounts.verification = 'verified'"),
)
_INSERT_CONVERSATION = (
    insert(Conversation)
    .on_conflict_do_nothing(index_elements=["workspace_id", "channel", "visitor_id"])
    .returning(Conversation)
)
_INSERT_MESSAGE = (
    insert(Message)
    .on_conflict_do_nothing(index_elements=["channel", "external_id"])
    .returning(Message)
)
_SENT_AT = bindparam("sent_at", type_=DateTime(timezone=True))
_COUNTERS: dict[str, Any] = {
    "message_count": Conversation.message_count + 1,
    "last_message_at": func.greatest(Conversation.last_message_at, _SENT_AT),
    "last_activity_at": func.greatest(Conversation.last_activity_at, _SENT_AT),
    "started_at": func.least(Conversation.started_at, _SENT_AT),
    "time_saved_seconds": Conversation.time_saved_seconds + bindparam("time_saved_seconds"),
    "updated_at": func.now(),
}
# Not synchronized into the session: evaluating these SQL expressions against the identity
# map cost a fifth of an inbound message's CPU, and no caller reads a conversation's counters
# in the transaction that stores its message (the session ends with it).
_RECORD_MESSAGE = {
    reopen: update(Conversation)
    .where(Conversation.id == bindparam("conversation_id"))
    .values(**_COUNTERS, **({"status": "open"} if reopen else {}))
    .execution_options(synchronize_session=False)
    for reopen in (False, True)
}

_CONVERSATION = select(Conversation).where(
    Conversation.id == bindparam("conversation_id"),
    Conversation.workspace_id == bindparam("workspace_id"),
)
# FOR NO KEY UPDATE: callers change columns, never the id, and so do not block the FOR KEY
# SHARE that the foreign key takes when a message of this conversation is written (the live
# trigger at commit does so after locking the workspace row; a plain FOR UPDATE here made the
# two wait for each other: a deadlock under load).
_CONVERSATION_LOCKED = _CONVERSATION.with_for_update(key_share=True)
# When the conversation's visitor last wrote: the messaging windows count from it.
_LAST_VISITOR_AT = (
    select(func.max(Message.sent_at))
    .where(Message.conversation_id == Conversation.id, Message.role == "visitor")
    .correlate(Conversation)
    .scalar_subquery()
    .label("last_visitor_at")
)
# What storing a reply reads of its conversation (usecases.messages.Replying).
REPLYING = (
    Conversation.id,
    Conversation.workspace_id,
    Conversation.channel,
    Conversation.status,
    _LAST_VISITOR_AT,
)
# The owner's live workspace: the newest, if a re-created one overlaps a deleted one.
OWNERS_WORKSPACE_ID = (
    select(Workspace.id)
    .where(Workspace.owner_id == bindparam("owner_id"), Workspace.deleted.is_(False))
    .order_by(Workspace.source_updated_at.desc())
    .limit(1)
    .scalar_subquery()
)
_LOCK_FOR_REPLY = Prepared(
    select(
        *REPLYING,
        Conversation.visitor_name,
        Conversation.agent_paused,
        Conversation.handed_off_at,
        Conversation.agent_booking,
        Conversation.tags,
    )
    .where(
        Conversation.id == bindparam("conversation_id"),
        Conversation.workspace_id == bindparam("workspace_id"),
    )
    .with_for_update(key_share=True, of=Conversation)
)


@cache
def _change(added: tuple[str, ...], assigned: tuple[str, ...]) -> Prepared:
    """`UPDATE conversations SET a = a + :add_a, b = :set_b ... WHERE id = :conversation_id`,
    built once per set of columns (a handful of combinations occur)."""
    columns = Conversation.__table__.c
    values: dict[str, Any] = {name: columns[name] + bindparam(f"add_{name}") for name in added}
    values |= {name: bindparam(f"set_{name}", type_=columns[name].type) for name in assigned}
    return Prepared(
        update(Conversation).where(Conversation.id == bindparam("conversation_id")).values(values)
    )


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One message of a conversation to store (`MessageRepository.add`)."""

    id: uuid.UUID
    content: str
    sent_at: datetime
    meta: dict[str, Any]
    external_id: str | None = None


# Every column of a message, named as the model's attributes (`metadata` is `meta`).
_MESSAGE_COLUMNS = ", ".join(
    f"{a.columns[0].name} AS {a.key}" for a in mapped(Message).column_attrs
)
# The messages (in the order given; one already stored under its provider id is skipped) and
# the conversation's counters, in one statement on asyncpg directly: every message stored
# takes it. The counters move in SQL, so concurrent writers lose no increment.
_ADD_MESSAGES = f"""
WITH added AS (
    INSERT INTO conversations.messages (id, conversation_id, workspace_id, role, content,
        channel, external_id, sent_at, metadata, delivery_status)
    SELECT p.id, $2, $3, $4, p.content, $5, p.external_id, p.sent_at, p.meta::jsonb, $6
    FROM unnest($1::uuid[], $7::text[], $8::text[], $9::timestamptz[], $10::text[])
        WITH ORDINALITY AS p(id, content, external_id, sent_at, meta, n)
    ORDER BY p.n
    ON CONFLICT (channel, external_id) DO NOTHING
    RETURNING *
), counted AS (
    UPDATE conversations.conversations SET
        message_count = message_count + (SELECT count(*) FROM added),
        last_message_at = greatest(last_message_at, (SELECT max(sent_at) FROM added)),
        last_activity_at = greatest(last_activity_at, (SELECT max(sent_at) FROM added)),
        started_at = least(started_at, (SELECT min(sent_at) FROM added)),
        time_saved_seconds = time_saved_seconds + $11 * (SELECT count(*) FROM added),
        status = CASE WHEN $12 THEN 'open' ELSE status END,
        updated_at = now()
    WHERE id = $2 AND EXISTS (SELECT 1 FROM added)
)
SELECT {_MESSAGE_COLUMNS} FROM added ORDER BY sent_at, id
"""  # noqa: S608 - column names of the model, no input


class WorkspaceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, workspace_id: uuid.UUID) -> Workspace | None:
        return await self.session.scalar(_LIVE_WORKSPACE, {"workspace_id": workspace_id})

    async def for_owner(self, owner_id: uuid.UUID) -> Workspace | None:
        return await self.session.scalar(
            select(Workspace).where(Workspace.id == OWNERS_WORKSPACE_ID), {"owner_id": owner_id}
        )

    async def by_handle(self, handle: str) -> Workspace | None:
        return await self.session.scalar(
            select(Workspace)
            .where(Workspace.handle == handle.lower(), Workspace.deleted.is_(False))
            .order_by(Workspace.source_updated_at.desc())
            .limit(1)
        )

    async def upsert(
        self,
        workspace_id: uuid.UUID,
        owner_id: uuid.UUID,
        handle: str,
        timezone: str,
        occurred_at: datetime,
        deleted: bool = False,
        name: str | None = None,
        tone: str | None = None,
        facts: dict[str, Any] | None = None,
    ) -> None:
        """Newest snapshot wins; a tombstone is final. `facts` holds the business facts the
        snapshot carried (column name to value); the ones it leaves out keep their value."""
        values = {
            "id": workspace_id,
            "owner_id": owner_id,
            "handle": handle.lower(),
            "timezone": timezone,
            "deleted": deleted,
            "source_updated_at": occurred_at,
        }
        values |= {k: v for k, v in (("name", name), ("tone", tone)) if v is not None}
        values |= facts or {}
        stmt = insert(Workspace).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Workspace.id],
            set_={k: stmt.excluded[k] for k in values if k != "id"},
            where=and_(
                Workspace.deleted.is_(False),
                or_(
                    stmt.excluded.deleted.is_(True),
                    Workspace.source_updated_at <= stmt.excluded.source_updated_at,
                ),
            ),
        )
        await self.session.execute(stmt)

    async def purge_contents(self, workspace_id: uuid.UUID) -> None:
        """Remove everything this service keeps for a workspace, except its tombstone."""
        await self.session.execute(delete(Message).where(Message.workspace_id == workspace_id))
        await self.session.execute(
            delete(Conversation).where(Conversation.workspace_id == workspace_id)
        )
        await self.session.execute(
            delete(ChannelAccount).where(ChannelAccount.workspace_id == workspace_id)
        )


class ChannelAccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, account: ChannelAccount) -> bool:
        """False when the workspace already claims it, or it is verified and another
        workspace's verified claim holds it."""
        stmt = (
            insert(ChannelAccount)
            .values(
                id=account.id,
                workspace_id=account.workspace_id,
                channel=account.channel,
                account_id=account.account_id,
                name=account.name,
                credentials_encrypted=account.credentials_encrypted,
                verification=account.verification,
                verification_reason=account.verification_reason,
                verified_at=account.verified_at,
                inbound_secret_encrypted=account.inbound_secret_encrypted,
            )
            .on_conflict_do_nothing()
            .returning(ChannelAccount.created_at)
        )
        created_at = await self.session.scalar(stmt)
        if created_at is None:
            return False
        account.created_at = created_at
        return True

    async def get(
        self, workspace_id: uuid.UUID, account_id: uuid.UUID, lock: bool = False
    ) -> ChannelAccount | None:
        stmt = select(ChannelAccount).where(
            ChannelAccount.id == account_id, ChannelAccount.workspace_id == workspace_id
        )
        if lock:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def claimed_by(
        self, workspace_id: uuid.UUID, channel: str, external_account_id: str
    ) -> bool:
        return bool(
            await self.session.scalar(
                select(
                    exists().where(
                        ChannelAccount.workspace_id == workspace_id,
                        ChannelAccount.channel == channel,
                        ChannelAccount.account_id == external_account_id,
                    )
                )
            )
        )

    async def verified_elsewhere(
        self, account_id: uuid.UUID, channel: str, external_account_id: str
    ) -> bool:
        """Whether another claim on this provider account is verified."""
        found = await self.route_account(channel, external_account_id)
        return found is not None and found[1] != account_id

    async def displace(self, account: ChannelAccount, reason: str) -> None:
        """The other claims on a provider account that `account` has just proved."""
        await self.session.execute(
            update(ChannelAccount)
            .where(
                ChannelAccount.channel == account.channel,
                ChannelAccount.account_id == account.account_id,
                ChannelAccount.id != account.id,
                ChannelAccount.verification != "verified",
            )
            .values(verification="failed", verification_reason=reason, verified_at=None)
            .execution_options(synchronize_session=False)
        )

    async def get_any(self, account_id: uuid.UUID) -> ChannelAccount | None:
        return await self.session.get(ChannelAccount, account_id)

    async def route(self, channel: str, external_account_id: str) -> uuid.UUID | None:
        found = await self.route_account(channel, external_account_id)
        return found[0] if found else None

    async def route_account(
        self, channel: str, external_account_id: str
    ) -> tuple[uuid.UUID, uuid.UUID] | None:
        """(workspace id, channel account id) of a provider account."""
        params = {"channel": channel, "account_id": external_account_id}
        row = (await self.session.execute(_ROUTE, params)).first()
        return (row[0], row[1]) if row is not None else None

    async def page(
        self, workspace_id: uuid.UUID, skip: int, limit: int
    ) -> tuple[list[ChannelAccount], int]:
        where = ChannelAccount.workspace_id == workspace_id
        count = await self.session.scalar(select(func.count()).where(where)) or 0
        rows = await self.session.scalars(
            select(ChannelAccount)
            .where(where)
            .order_by(ChannelAccount.created_at, ChannelAccount.id)
            .offset(skip)
            .limit(limit)
        )
        return list(rows), count

    async def delete(self, account: ChannelAccount) -> None:
        await self.session.delete(account)


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    channel: str | None = None
    status: str | None = None
    tag: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    text: str | None = None


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ConversationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(
        self, workspace_id: uuid.UUID, conversation_id: uuid.UUID, lock: bool = False
    ) -> Conversation | None:
        return await self.session.scalar(
            _CONVERSATION_LOCKED if lock else _CONVERSATION,
            {"conversation_id": conversation_id, "workspace_id": workspace_id},
        )

    async def change(
        self,
        conversation_id: uuid.UUID,
        *,
        add: dict[str, int] | None = None,
        assign: dict[str, Any] | None = None,
    ) -> None:
        """Add to counters (in SQL: concurrent writers lose no increment) and set columns,
        in one statement. The session's copy of the conversation is not updated."""
        add, assign = add or {}, assign or {}
        if not add and not assign:
            return
        params: dict[str, Any] = {"conversation_id": conversation_id}
        params |= {f"add_{k}": v for k, v in add.items()}
        params |= {f"set_{k}": v for k, v in assign.items()}
        await Raw(self.session).rows(_change(tuple(sorted(add)), tuple(sorted(assign))), params)

    async def lock_for_reply(
        self, workspace_id: uuid.UUID, conversation_id: uuid.UUID
    ) -> Row | None:
        """The conversation's columns a reply and its turn read, locked as `get(lock=True)`
        locks it, with when its visitor last wrote (`last_visitor_at`, the messaging
        windows count from it): one statement."""
        return await Raw(self.session).row(
            _LOCK_FOR_REPLY, {"conversation_id": conversation_id, "workspace_id": workspace_id}
        )

    async def get_any(self, conversation_id: uuid.UUID) -> Conversation | None:
        return await self.session.get(Conversation, conversation_id)

    async def insert_if_absent(self, values: dict[str, Any]) -> Conversation | None:
        """Insert unless (workspace, channel, visitor) exists; None when it already did.

        A concurrent insert of the same visitor waits for the other transaction, so two
        consumers never open two conversations for one visitor.
        """
        return (await self.session.scalars(_INSERT_CONVERSATION, [values])).first()

    async def by_visitor(
        self, workspace_id: uuid.UUID, channel: str, visitor_id: str
    ) -> Conversation | None:
        return await self.session.scalar(
            select(Conversation).where(
                Conversation.workspace_id == workspace_id,
                Conversation.channel == channel,
                Conversation.visitor_id == visitor_id,
            )
        )

    def _filtered(self, workspace_id: uuid.UUID, f: ConversationFilter) -> Select[Any]:
        stmt = select(Conversation).where(Conversation.workspace_id == workspace_id)
        if f.channel:
            stmt = stmt.where(Conversation.channel == f.channel)
        if f.status:
            stmt = stmt.where(Conversation.status == f.status)
        if f.tag:
            stmt = stmt.where(Conversation.tags.contains([f.tag]))
        # Active in the range: started before its end and last active after its start.
        if f.start:
            stmt = stmt.where(Conversation.last_activity_at >= f.start)
        if f.end:
            stmt = stmt.where(Conversation.started_at < f.end)
        if f.text:
            stmt = stmt.where(
                exists().where(
                    Message.conversation_id == Conversation.id,
                    Message.content.ilike(f"%{_escape_like(f.text)}%", escape="\\"),
                )
            )
        return stmt

    async def page(
        self, workspace_id: uuid.UUID, f: ConversationFilter, skip: int, limit: int
    ) -> tuple[list[Conversation], int]:
        stmt = self._filtered(workspace_id, f)
        count = await self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = await self.session.scalars(
            stmt.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
            .offset(skip)
            .limit(limit)
        )
        return list(rows), count

    async def record_message(
        self,
        conversation_id: uuid.UUID,
        sent_at: datetime,
        *,
        reopen: bool,
        time_saved_seconds: int = 0,
    ) -> None:
        """Counters move in SQL, so concurrent consumers never lose an increment.

        The session's copy of the conversation keeps its old counters and status.
        """
        await self.session.execute(
            _RECORD_MESSAGE[reopen],
            {
                "conversation_id": conversation_id,
                "sent_at": sent_at,
                "time_saved_seconds": time_saved_seconds,
            },
        )

    async def recount(self, conversation_id: uuid.UUID) -> None:
        """After a message is deleted: count and last message from what is left."""
        remaining = select(func.count(), func.max(Message.sent_at)).where(
            Message.conversation_id == conversation_id
        )
        count, last = (await self.session.execute(remaining)).one()
        await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(
                message_count=count,
                last_message_at=last,
                last_activity_at=func.coalesce(last, Conversation.started_at),
                updated_at=func.now(),
            )
        )

    async def delete(self, conversation: Conversation) -> None:
        await self.session.delete(conversation)

    async def set_opted_out(self, conversation_id: uuid.UUID, opted_out: bool) -> None:
        await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(opted_out_at=func.now() if opted_out else None)
            .execution_options(synchronize_session=False)
        )

    async def last_visitor_message_at(self, conversation_id: uuid.UUID) -> datetime | None:
        """When the visitor last wrote: the messaging windows count from it."""
        return await self.session.scalar(
            select(func.max(Message.sent_at)).where(
                Message.conversation_id == conversation_id, Message.role == "visitor"
            )
        )


class MessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        conversation: Any,
        role: str,
        messages: list[NewMessage],
        *,
        delivery_status: str | None = None,
        reopen: bool = False,
        time_saved_seconds: int = 0,
    ) -> list[Message]:
        """Store `messages` of one role in `conversation` (anything with its `id`,
        `workspace_id` and `channel`) and move its counters: count, last message and activity,
        time saved (`time_saved_seconds` each), status `open` again if `reopen`. A message
        whose (channel, external id) is already stored is skipped; returns those stored, as
        models not attached to the session."""
        rows = await Raw(self.session).fetch(
            _ADD_MESSAGES,
            [m.id for m in messages],
            conversation.id,
            conversation.workspace_id,
            role,
            conversation.channel,
            delivery_status,
            [m.content for m in messages],
            [m.external_id for m in messages],
            [m.sent_at for m in messages],
            [json.dumps(m.meta) for m in messages],
            time_saved_seconds,
            reopen,
        )
        return [Message(**dict(row)) for row in rows]

    async def insert_once(self, values: dict[str, Any]) -> Message | None:
        """Insert; None when the provider message (channel, external id) is already stored."""
        return (await self.session.scalars(_INSERT_MESSAGE, [values])).first()

    async def get(
        self, workspace_id: uuid.UUID, message_id: uuid.UUID, lock: bool = False
    ) -> Message | None:
        stmt = select(Message).where(Message.id == message_id, Message.workspace_id == workspace_id)
        if lock:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def by_external_id(self, channel: str, external_id: str) -> Message | None:
        return await self.session.scalar(
            select(Message)
            .where(Message.channel == channel, Message.external_id == external_id)
            .with_for_update()
        )

    async def page(
        self, conversation_id: uuid.UUID, skip: int, limit: int
    ) -> tuple[list[Message], int]:
        where = Message.conversation_id == conversation_id
        count = await self.session.scalar(select(func.count()).where(where)) or 0
        rows = await self.session.scalars(
            select(Message)
            .where(where)
            .order_by(Message.sent_at, Message.id)
            .offset(skip)
            .limit(limit)
        )
        return list(rows), count

    async def delete(self, message: Message) -> None:
        await self.session.delete(message)


class UnroutedRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, values: dict[str, Any]) -> None:
        await self.session.execute(
            insert(UnroutedMessage).values(**values).on_conflict_do_nothing()
        )
