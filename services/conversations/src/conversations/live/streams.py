"""Reading changes after a change number, and following them as they commit."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations.db.models import Conversation, Message, Workspace
from conversations.live.hub import Subscription

BATCH = 100


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    kind: str  # "message" or "conversation": the row as it is now
    row: Any


Fetch = Callable[[int], Awaitable[list[Change]]]
Sessions = async_sessionmaker[AsyncSession]


async def workspace_seq(sessions: Sessions, workspace_id: uuid.UUID) -> int:
    """The newest change number of a workspace: where a fresh owner stream starts."""
    async with sessions() as session:
        seq = await session.scalar(select(Workspace.live_seq).where(Workspace.id == workspace_id))
        return int(seq or 0)


async def conversation_changes(
    sessions: Sessions, conversation_id: uuid.UUID, after: int
) -> list[Change]:
    """Messages of one conversation created or moved after `after`, oldest change first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.live_seq > after)
            .order_by(Message.live_seq)
            .limit(BATCH)
        )
        return [Change(m.live_seq or 0, "message", m) for m in rows]


async def workspace_changes(
    sessions: Sessions, workspace_id: uuid.UUID, after: int
) -> list[Change]:
    """Conversations and messages of a workspace changed after `after`, oldest first."""
    async with sessions() as session:
        conversations = list(
            await session.scalars(
                select(Conversation)
                .where(Conversation.workspace_id == workspace_id, Conversation.live_seq > after)
                .order_by(Conversation.live_seq)
                .limit(BATCH)
            )
        )
        messages = list(
            await session.scalars(
                select(Message)
                .where(Message.workspace_id == workspace_id, Message.live_seq > after)
                .order_by(Message.live_seq)
                .limit(BATCH)
            )
        )
    changes = [Change(c.live_seq or 0, "conversation", c) for c in conversations]
    changes += [Change(m.live_seq or 0, "message", m) for m in messages]
    changes.sort(key=lambda change: change.seq)
    # A full batch of one kind may hide later rows of that kind: stop at its last number, the
    # next read continues from there.
    cut = min(
        (batch[-1].live_seq or 0 for batch in (conversations, messages) if len(batch) == BATCH),
        default=None,
    )
    return [c for c in changes if cut is None or c.seq <= cut]


async def follow(
    fetch: Fetch,
    subscription: Subscription,
    after: int,
    poll_seconds: float,
    max_seconds: float,
) -> AsyncIterator[Change]:
    """Every change after `after`, then each new one as it commits, until the stream's time
    is up or the server shuts down (the client reconnects with its last id)."""
    ends = time.monotonic() + max_seconds
    cursor = after
    while not subscription.closed:
        changes = await fetch(cursor)
        for change in changes:
            cursor = max(cursor, change.seq)
            yield change
        if len(changes) >= BATCH:
            continue  # more to catch up on before waiting
        left = ends - time.monotonic()
        if left <= 0:
            return
        await subscription.wait(min(poll_seconds, left))
