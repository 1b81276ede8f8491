"""The delivery's statements: claim, record, sweep, early receipts.

Each state change is a conditional UPDATE on the row's current state, so two consumers
holding the same reply can never both move it: only the one whose UPDATE matched goes on.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from conversations.db.models import ChannelAccount, Conversation, EarlyReceipt, Message


@dataclass(frozen=True, slots=True)
class Moved:
    """A row whose state changed: what the `message.delivery_updated` event carries."""

    message_id: uuid.UUID
    conversation_id: uuid.UUID
    workspace_id: uuid.UUID
    channel: str
    delivery_status: str
    delivery_error: str | None
    updated_at: datetime


_RETURNING = (
    Message.id,
    Message.conversation_id,
    Message.workspace_id,
    Message.channel,
    Message.delivery_status,
    Message.delivery_error,
    Message.delivery_updated_at,
)


# Built once, run with parameters: the delivery runs them for every reply.
_TARGET = aliased(Message)
_DUE = (
    select(Message.id)
    .join(_TARGET, _TARGET.id == bindparam("message_id"))
    .where(
        Message.conversation_id == _TARGET.conversation_id,
        Message.delivery_status == "pending",
        tuple_(Message.sent_at, Message.id) <= tuple_(_TARGET.sent_at, _TARGET.id),
    )
    .order_by(Message.sent_at, Message.id)
    .limit(50)
)
_CONTEXT = (
    select(Message, Conversation, ChannelAccount)
    .join(Conversation, Conversation.id == Message.conversation_id)
    .outerjoin(ChannelAccount, ChannelAccount.id == Conversation.channel_account_id)
    .where(Message.id == bindparam("message_id"))
)


_ACCOUNT_OF = select(Conversation.channel_account_id).where(
    Conversation.id == bindparam("conversation_id")
)
_TAKE_EARLY = (
    delete(EarlyReceipt)
    .where(
        EarlyReceipt.channel == bindparam("channel"),
        EarlyReceipt.external_id == bindparam("external_id"),
    )
    .returning(EarlyReceipt)
)


@functools.cache
def _move(from_states: tuple[str, ...], with_external_id: bool) -> Any:
    """A state change, built once per kind: building it per reply (coercing the IN list and
    the values, computing its cache key) was 3 % of a reply's CPU."""
    values: dict[str, Any] = {
        "delivery_status": bindparam("to"),
        "delivery_error": bindparam("error"),
        "delivery_updated_at": func.now(),
    }
    if with_external_id:
        values["external_id"] = bindparam("external")
    return (
        update(Message)
        .where(Message.id == bindparam("message_id"), Message.delivery_status.in_(from_states))
        .values(**values)
        .returning(*_RETURNING)
        .execution_options(synchronize_session=False)
    )


def _moved(row: Any) -> Moved:
    return Moved(*row)


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def due(self, message_id: uuid.UUID) -> list[uuid.UUID]:
        """Pending replies of this message's conversation up to and including it, in order:
        an earlier part of a split reply always leaves first."""
        rows = await self.session.scalars(_DUE, {"message_id": message_id})
        return list(rows)

    async def account_of(self, conversation_id: uuid.UUID) -> uuid.UUID | None:
        """The channel account a conversation answers on (None: found by channel later)."""
        found: uuid.UUID | None = await self.session.scalar(
            _ACCOUNT_OF, {"conversation_id": conversation_id}
        )
        return found

    async def context(
        self, message_id: uuid.UUID
    ) -> tuple[Message, Conversation, ChannelAccount | None] | None:
        row = (await self.session.execute(_CONTEXT, {"message_id": message_id})).first()
        if row is None:
            return None
        message, conversation, account = row
        if account is None:
            # Conversations recorded by hand (or older than account routing): the workspace's
            # only account of that channel, if it has exactly one.
            found = list(
                await self.session.scalars(
                    select(ChannelAccount)
                    .where(
                        ChannelAccount.workspace_id == conversation.workspace_id,
                        ChannelAccount.channel == conversation.channel,
                    )
                    .limit(2)
                )
            )
            account = found[0] if len(found) == 1 else None
        return message, conversation, account

    async def move(
        self,
        message_id: uuid.UUID,
        *,
        from_states: tuple[str, ...],
        to: str,
        error: str | None = None,
        external_id: str | None = None,
    ) -> Moved | None:
        params = {"message_id": message_id, "to": to, "error": error, "external": external_id}
        statement = _move(tuple(from_states), external_id is not None)
        row = (await self.session.execute(statement, params)).first()
        return _moved(row) if row is not None else None

    async def sweep_stale(self, older_than: datetime, reason: str) -> list[Moved]:
        rows = await self.session.execute(
            update(Message)
            .where(Message.delivery_status == "sending", Message.delivery_updated_at < older_than)
            .values(
                delivery_status="unknown", delivery_error=reason, delivery_updated_at=func.now()
            )
            .returning(*_RETURNING)
            .execution_options(synchronize_session=False)
        )
        return [_moved(r) for r in rows]

    async def opt_out(self, conversation_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.opted_out_at.is_(None))
            .values(opted_out_at=func.now())
            .execution_options(synchronize_session=False)
        )

    # -- receipts that came before the send was recorded ---------------------------------

    async def keep_early_receipt(
        self, channel: str, external_id: str, status: str, error: str | None, at: datetime
    ) -> None:
        self.session.add(
            EarlyReceipt(
                channel=channel, external_id=external_id, status=status, error=error, occurred_at=at
            )
        )

    async def take_early_receipts(self, channel: str, external_id: str) -> list[EarlyReceipt]:
        rows = list(
            await self.session.scalars(
                _TAKE_EARLY, {"channel": channel, "external_id": external_id}
            )
        )
        return sorted(rows, key=lambda r: r.occurred_at)

    async def forget_early_receipts(self, older_than: datetime) -> None:
        """Receipts for messages sent outside the platform never find their message."""
        await self.session.execute(
            delete(EarlyReceipt).where(EarlyReceipt.received_at < older_than)
        )

    async def watermark(
        self,
        conversation_id: uuid.UUID,
        status: str,
        before: datetime,
        below: tuple[str, ...],
    ) -> list[Moved]:
        """Messenger/Instagram: every outbound message of the conversation sent before the
        watermark and still below `status` moves to it."""
        rows = await self.session.execute(
            update(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.role.in_(("owner", "agent")),
                Message.sent_at <= before,
                Message.delivery_status.in_(below),
            )
            .values(delivery_status=status, delivery_updated_at=func.now())
            .returning(*_RETURNING)
            .execution_options(synchronize_session=False)
        )
        return [_moved(r) for r in rows]
