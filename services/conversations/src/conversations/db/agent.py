"""Queries of the agent's tables: its projections, the owner's settings, its per-conversation
memory and turn lease."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Text,
    and_,
    any_,
    bindparam,
    cast,
    column,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession

from conversations.agent.knowledge import BusinessFacts, FaqEntry, Policies
from conversations.db.identity import PROVEN_CONTACT
from conversations.db.models import (
    AgentConversation,
    AgentSettings,
    ConnectorState,
    Contact,
    Conversation,
    Message,
    VisitorTyping,
    Workspace,
    WorkspaceService,
)
from conversations.domain import conversation_state
from conversations.domain.burst import Burst
from conversations.reminders.models import ReminderBooking, ReminderJob
from shared.db.raw import Prepared, Raw

ANSWERED_KEPT = 200  # visitor message ids remembered as answered, per conversation
RECENT_VISITOR_MESSAGES = 20  # how far back a turn looks for unanswered messages


class AgentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- projections -----------------------------------------------------------------------

    async def upsert_service(self, values: dict[str, Any], deleted: bool = False) -> None:
        """Newest snapshot wins; a deleted service stays deleted."""
        stmt = insert(WorkspaceService).values(**values, deleted=deleted)
        columns = [k for k in (*values, "deleted") if k != "id"]
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[WorkspaceService.id],
                set_={k: stmt.excluded[k] for k in columns},
                where=and_(
                    WorkspaceService.deleted.is_(False),
                    or_(
                        stmt.excluded.deleted.is_(True),
                        WorkspaceService.source_updated_at <= stmt.excluded.source_updated_at,
                    ),
                ),
            )
        )

    async def services(self, workspace_id: uuid.UUID) -> list[WorkspaceService]:
        """Active services in display order; each row carries `price` (Decimal) and
        `currency`, both None when the owner set no price."""
        rows = await self.session.scalars(
            select(WorkspaceService)
            .where(
                WorkspaceService.workspace_id == workspace_id,
                WorkspaceService.deleted.is_(False),
                WorkspaceService.is_active.is_(True),
            )
            .order_by(WorkspaceService.position, WorkspaceService.name, WorkspaceService.id)
        )
        return list(rows)

    async def business_facts(self, workspace_id: uuid.UUID) -> BusinessFacts | None:
        """The workspace's business facts as last projected; None for a workspace this
        service does not know (or that was deleted)."""
        row = (
            await self.session.execute(
                select(*_FACTS).where(Workspace.id == workspace_id, Workspace.deleted.is_(False))
            )
        ).first()
        return None if row is None else business_facts(row)

    async def upsert_connector(
        self,
        connector_id: uuid.UUID,
        workspace_id: uuid.UUID,
        provider: str,
        active: bool,
        occurred_at: datetime,
    ) -> None:
        values = {
            "connector_id": connector_id,
            "workspace_id": workspace_id,
            "provider": provider,
            "active": active,
            "source_updated_at": occurred_at,
        }
        stmt = insert(ConnectorState).values(**values)
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[ConnectorState.connector_id],
                set_={k: stmt.excluded[k] for k in values if k != "connector_id"},
                where=ConnectorState.source_updated_at <= stmt.excluded.source_updated_at,
            )
        )

    # -- settings --------------------------------------------------------------------------

    async def settings(self, workspace_id: uuid.UUID) -> AgentSettings:
        found = await self.session.get(AgentSettings, workspace_id)
        return found if found is not None else default_settings(workspace_id)

    async def save_settings(self, workspace_id: uuid.UUID, values: dict[str, Any]) -> AgentSettings:
        stmt = insert(AgentSettings).values(workspace_id=workspace_id, **values)
        if values:
            stmt = stmt.on_conflict_do_update(
                index_elements=[AgentSettings.workspace_id],
                set_={**{k: stmt.excluded[k] for k in values}, "updated_at": func.now()},
            )
        else:
            stmt = stmt.on_conflict_do_nothing()
        await self.session.execute(stmt)
        await self.session.flush()
        row = await self.session.get(AgentSettings, workspace_id, populate_existing=True)
        assert row is not None
        return row

    # -- turns -----------------------------------------------------------------------------

    async def take_turn(
        self, conversation_id: uuid.UUID, lease_seconds: float
    ) -> TurnMemory | None:
        """Take the conversation's turn lease and read the agent's memory of it, in one
        statement; None while another turn holds the lease. Raises IntegrityError for a
        conversation that does not exist."""
        row = await Raw(self.session).row(
            _TAKE_TURN_RAW, {"conversation_id": conversation_id, "seconds": float(lease_seconds)}
        )
        if row is None:
            return None
        return TurnMemory(list(row.history or []), row.memory, list(row.answered_ids or []))

    async def turn_context(self, conversation_id: uuid.UUID) -> Any | None:
        """Everything a turn reads, in one statement: the conversation, its live workspace
        (with the business facts), the owner's agent settings (NULL columns: none saved, the
        defaults apply), the active provider, the conversation's contact and the contact a
        one-time code proved in it; and as JSON lists, the workspace's active services
        (`services`), the visitor messages no turn has answered (`unanswered`) and the
        booking last reminded of (`reminded`). None: the conversation or its workspace is
        gone. Read `business_facts(row)`, `settings_of(row)`, `unanswered_of(row)` and
        `reminded_of(row)` for the typed parts."""
        return await Raw(self.session).row(_TURN_CONTEXT_RAW, {"conversation_id": conversation_id})

    async def release_turn(self, conversation_id: uuid.UUID) -> None:
        await self.session.execute(
            update(AgentConversation)
            .where(AgentConversation.conversation_id == conversation_id)
            .values(lease_until=None)
        )

    async def burst(self, conversation_id: uuid.UUID, message_id: uuid.UUID) -> Burst | None:
        """One visitor message and whether more may be coming, in one round trip and on the
        database's clock (None: the message is gone); no transaction is begun for it."""
        row = await Raw(self.session, transaction=False).row(
            _BURST, {"conversation_id": conversation_id, "message_id": message_id}
        )
        if row is None:
            return None
        return Burst(row.now, row.arrived, row.newest or row.arrived, row.typed, row.answered)

    async def state(self, conversation_id: uuid.UUID) -> AgentConversation | None:
        return await self.session.get(AgentConversation, conversation_id)

    async def end_turn(
        self,
        conversation_id: uuid.UUID,
        *,
        answered: list[uuid.UUID],
        history: list[Any] | None = None,
        memory: dict[str, Any] | None = None,
    ) -> list[Unanswered]:
        """Add the answered messages to those the row holds (the newest ANSWERED_KEPT), store
        the new history and memory, release the turn lease, and return the recent visitor
        messages still unanswered (written meanwhile): one statement.

        The answered ids are merged in SQL with what the row holds now, not with what the
        turn read when it began: a turn that outlived its lease does not undo what the turn
        after it recorded. Released and checked at once: a message committed before this
        statement is among those returned; one committed after it finds the lease released
        (its own turn waits on this row's lock until the commit, then takes the lease)."""
        rows = await Raw(self.session).rows(
            _END_TURN_RAW,
            {
                "conversation_id": conversation_id,
                "answered": answered,
                "kept": ANSWERED_KEPT,
                "recent": RECENT_VISITOR_MESSAGES,
                "history": history,
                "memory": memory,
            },
        )
        return [Unanswered(row.id, row.content, row.meta or {}) for row in rows]

    async def reset_memory(self, conversation_id: uuid.UUID) -> None:
        """The owner hands back: the agent starts without its doubts (misunderstandings)."""
        await self.session.execute(
            update(AgentConversation)
            .where(AgentConversation.conversation_id == conversation_id)
            .values(
                memory=AgentConversation.memory.op("||")(text("'{\"misunderstood\": 0}'::jsonb"))
            )
        )

    async def pause(self, conversation_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(**conversation_state.owner_answered())
        )


@dataclass(frozen=True, slots=True)
class Unanswered:
    """A visitor message a turn has to answer."""

    id: uuid.UUID
    content: str
    meta: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TurnMemory:
    """The agent's memory of a conversation, as a turn takes it."""

    history: list[Any]
    memory: dict[str, Any] | None
    answered_ids: list[uuid.UUID]


def default_settings(workspace_id: uuid.UUID) -> AgentSettings:
    """The settings of a workspace whose owner saved none."""
    return AgentSettings(
        workspace_id=workspace_id,
        enabled=True,
        greeting=None,
        minutes_per_reply=2,
        channels=None,
        required_contact="name_and_phone_or_email",
        require_verified_contact_on_webchat=False,
    )


def unanswered_of(row: Any) -> list[Unanswered]:
    """The turn context's unanswered visitor messages, oldest first."""
    return [Unanswered(uuid.UUID(m["id"]), m["content"], m["meta"] or {}) for m in row.unanswered]


def settings_of(row: Any) -> AgentSettings:
    """The agent settings in a `turn_context` row."""
    if row.settings_saved is None:
        return default_settings(row.workspace_id)
    return AgentSettings(
        workspace_id=row.workspace_id,
        enabled=row.enabled,
        greeting=row.greeting,
        minutes_per_reply=row.minutes_per_reply,
        channels=row.channels,
        required_contact=row.required_contact,
        require_verified_contact_on_webchat=row.require_verified_contact_on_webchat,
    )


def business_facts(row: Any) -> BusinessFacts:
    """The business facts in a row that has the `_FACTS` columns."""
    policies = row.policies or {}
    return BusinessFacts(
        address=row.address,
        map_url=row.map_url,
        phone=row.phone,
        email=row.email,
        payment_methods=tuple(row.payment_methods or ()),
        policies=Policies(
            cancellation=policies.get("cancellation"),
            lateness=policies.get("lateness"),
            deposit=policies.get("deposit"),
        ),
        faq=tuple(
            FaqEntry(
                question=entry["question"],
                answer=entry["answer"],
                language=entry.get("language"),
            )
            for entry in row.faq or ()
        ),
    )


_FACTS = (
    Workspace.address,
    Workspace.map_url,
    Workspace.phone,
    Workspace.email,
    Workspace.payment_methods,
    Workspace.policies,
    Workspace.faq,
)

_TAKE_TURN = text(
    """
INSERT INTO conversations.agent_conversations (conversation_id, lease_until)
VALUES (:conversation_id, now() + make_interval(secs => :seconds))
ON CONFLICT (conversation_id) DO UPDATE SET lease_until = excluded.lease_until
WHERE agent_conversations.lease_until IS NULL OR agent_conversations.lease_until < now()
RETURNING history, memory, answered_ids
"""
).columns(AgentConversation.history, AgentConversation.memory, AgentConversation.answered_ids)

_recent = (
    select(Message.id, Message.content, Message.meta, Message.sent_at)
    .where(Message.conversation_id == bindparam("conversation_id"), Message.role == "visitor")
    .order_by(Message.sent_at.desc(), Message.id.desc())
    .limit(RECENT_VISITOR_MESSAGES)
    .subquery()
)
_answered = select(func.unnest(AgentConversation.answered_ids)).where(
    AgentConversation.conversation_id == bindparam("conversation_id")
)
# None for history or memory keeps what the row holds (SQL NULL parameters, not JSON null).
_END_TURN = (
    text(
        """
WITH ended AS (
    UPDATE conversations.agent_conversations
    SET answered_ids = ARRAY(
            SELECT id FROM (
                SELECT id, min(ord) AS first
                FROM unnest(answered_ids || :answered) WITH ORDINALITY AS given(id, ord)
                GROUP BY id ORDER BY first DESC LIMIT :kept
            ) newest ORDER BY first
        ),
        history = COALESCE(:history, history),
        memory = COALESCE(:memory, memory),
        updated_at = now(),
        lease_until = NULL
    WHERE conversation_id = :conversation_id
    RETURNING answered_ids
), recent AS (
    SELECT id, content, metadata AS meta, sent_at FROM conversations.messages
    WHERE conversation_id = :conversation_id AND role = 'visitor'
    ORDER BY sent_at DESC, id DESC LIMIT :recent
)
SELECT id, content, meta FROM recent
WHERE NOT EXISTS (SELECT 1 FROM ended WHERE recent.id = ANY (ended.answered_ids))
ORDER BY sent_at, id
"""
    )
    .bindparams(
        bindparam("answered", type_=AgentConversation.answered_ids.type),
        bindparam("history", type_=JSONB(none_as_null=True)),
        bindparam("memory", type_=JSONB(none_as_null=True)),
    )
    .columns(
        column("id", Message.id.type), column("content", Text), column("meta", Message.meta.type)
    )
)

_active_provider = (
    select(ConnectorState.provider)
    .where(
        ConnectorState.workspace_id == Conversation.workspace_id, ConnectorState.active.is_(True)
    )
    .order_by(ConnectorState.source_updated_at.desc())
    .limit(1)
    .scalar_subquery()
)
# The turn context's lists, as JSON built in the same statement (one round trip, not four).
_services_json = (
    select(
        func.coalesce(
            func.jsonb_agg(
                aggregate_order_by(
                    func.jsonb_build_object(
                        "id", WorkspaceService.id,
                        "name", WorkspaceService.name,
                        "duration_minutes", WorkspaceService.duration_minutes,
                        "description", WorkspaceService.description,
                        "price", cast(WorkspaceService.price, Text),  # exact, not a float
                        "currency", WorkspaceService.currency,
                    ),
                    WorkspaceService.position,
                    WorkspaceService.name,
                    WorkspaceService.id,
                )
            ),
            text("'[]'::jsonb"),
            type_=JSONB,
        )
    )
    .where(
        WorkspaceService.workspace_id == Conversation.workspace_id,
        WorkspaceService.deleted.is_(False),
        WorkspaceService.is_active.is_(True),
    )
    .scalar_subquery()
)  # fmt: skip
_unanswered_json = (
    select(
        func.coalesce(
            func.jsonb_agg(
                aggregate_order_by(
                    func.jsonb_build_object(
                        "id", _recent.c.id, "content", _recent.c.content, "meta", _recent.c.meta
                    ),
                    _recent.c.sent_at,
                    _recent.c.id,
                )
            ),
            text("'[]'::jsonb"),
            type_=JSONB,
        )
    )
    .select_from(_recent)
    .where(_recent.c.id.not_in(_answered))
    .scalar_subquery()
)  # fmt: skip
# Fresh: the reminder is the last thing said to the visitor, so what they write now answers
# it ("👍", "can we do friday instead?").
_last_said = (
    select(Message.id)
    .where(Message.conversation_id == bindparam("conversation_id"), Message.role != "visitor")
    .order_by(Message.sent_at.desc(), Message.id.desc())
    .limit(1)
    .scalar_subquery()
)
_reminded_json = (
    select(
        func.jsonb_build_object(
            "booking_id", ReminderBooking.booking_id,
            "service", ReminderBooking.service,
            "start_at", ReminderBooking.start_at,
            "fresh", ReminderJob.message_id == _last_said,
            type_=JSONB,
        )
    )
    .join(
        ReminderJob,
        (ReminderJob.booking_id == ReminderBooking.booking_id)
        & (ReminderJob.workspace_id == ReminderBooking.workspace_id),
    )
    .where(
        ReminderJob.conversation_id == bindparam("conversation_id"),
        ReminderJob.status == "sent",
        ReminderBooking.status == "confirmed",
        ReminderBooking.start_at > func.now(),
    )
    .order_by(ReminderJob.updated_at.desc())
    .limit(1)
    .scalar_subquery()
)  # fmt: skip
_TURN_CONTEXT = (
    select(
        Conversation.id,
        Conversation.workspace_id,
        Conversation.channel,
        Conversation.visitor_id,
        Conversation.visitor_name,
        Conversation.visitor_contact,
        Conversation.agent_paused,
        Workspace.owner_id,
        Workspace.handle,
        Workspace.name,
        Workspace.tone,
        Workspace.timezone,
        *_FACTS,
        AgentSettings.workspace_id.label("settings_saved"),
        AgentSettings.enabled,
        AgentSettings.greeting,
        AgentSettings.minutes_per_reply,
        AgentSettings.channels,
        AgentSettings.required_contact,
        AgentSettings.require_verified_contact_on_webchat,
        _active_provider.label("provider"),
        Contact.id.label("contact_id"),
        Contact.name.label("contact_name"),
        Contact.phone.label("contact_phone"),
        Contact.email.label("contact_email"),
        PROVEN_CONTACT.label("proven_contact_id"),
        _services_json.label("services"),
        _unanswered_json.label("unanswered"),
        _reminded_json.label("reminded"),
    )
    .join(
        Workspace,
        and_(Workspace.id == Conversation.workspace_id, Workspace.deleted.is_(False)),
    )
    .outerjoin(AgentSettings, AgentSettings.workspace_id == Conversation.workspace_id)
    .outerjoin(
        Contact,
        and_(
            Contact.id == Conversation.contact_id, Contact.workspace_id == Conversation.workspace_id
        ),
    )
    .where(Conversation.id == bindparam("conversation_id"))
)

_BURST = Prepared(
    select(
        func.now().label("now"),
        Message.created_at.label("arrived"),
        select(func.max(Message.created_at))
        .where(Message.conversation_id == bindparam("conversation_id"), Message.role == "visitor")
        .scalar_subquery()
        .label("newest"),
        select(VisitorTyping.typed_at)
        .where(VisitorTyping.conversation_id == bindparam("conversation_id"))
        .scalar_subquery()
        .label("typed"),
        exists()
        .where(
            AgentConversation.conversation_id == bindparam("conversation_id"),
            any_(AgentConversation.answered_ids) == bindparam("message_id", type_=Message.id.type),
        )
        .label("answered"),
    ).where(Message.id == bindparam("message_id"))
)

# The turn's statements run on asyncpg directly (shared.db.raw): they run for every visitor
# message, and through the session each cost three times asyncpg's CPU.
_TAKE_TURN_RAW = Prepared(_TAKE_TURN)
_TURN_CONTEXT_RAW = Prepared(_TURN_CONTEXT)
_END_TURN_RAW = Prepared(_END_TURN)
