"""The web chat typing signal: one row per conversation, rewritten by each signal."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from conversations.db.models import Conversation, VisitorTyping


class VisitorTypingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def mark(self, conversation_id: uuid.UUID) -> bool:
        """Stamp the signal with the database's clock (the one the agent compares it with);
        False when no web chat conversation has this id."""
        stmt = insert(VisitorTyping).from_select(
            [VisitorTyping.conversation_id, VisitorTyping.typed_at],
            select(Conversation.id, func.now()).where(
                Conversation.id == conversation_id, Conversation.channel == "web"
            ),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[VisitorTyping.conversation_id],
            set_={"typed_at": stmt.excluded.typed_at},
        ).returning(VisitorTyping.conversation_id)
        return (await self.session.scalar(stmt)) is not None
