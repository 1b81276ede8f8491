"""Repositories: each holds the unit of work's session; no commits happen here."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.db.models import Booking, Connector, WebhookReceipt, Workspace, WorkspaceService
from shared.db.raw import Prepared, Raw, Row


class WorkspaceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_owner(self, owner_id: uuid.UUID, *, lock: bool = False) -> Workspace | None:
        stmt = (
            select(Workspace)
            .where(Workspace.owner_id == owner_id, Workspace.deleted_at.is_(None))
            .order_by(Workspace.source_version.desc())
            .limit(1)
        )
        if lock:
            # Serialises everything that changes which connector is active in a workspace.
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get(self, workspace_id: uuid.UUID, *, lock: bool = False) -> Workspace | None:
        stmt = select(Workspace).where(Workspace.workspace_id == workspace_id)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def upsert(
        self,
        workspace_id: uuid.UUID,
        owner_id: uuid.UUID,
        handle: str,
        timezone: str,
        version: datetime,
    ) -> bool:
        """Insert or refresh a live workspace; stale or post-deletion events change nothing."""
        values = pg_insert(Workspace).values(
            workspace_id=workspace_id,
            owner_id=owner_id,
            handle=handle,
            timezone=timezone,
            source_version=version,
        )
        stmt = values.on_conflict_do_update(
            index_elements=[Workspace.workspace_id],
            set_={
                "owner_id": values.excluded.owner_id,
                "handle": values.excluded.handle,
                "timezone": values.excluded.timezone,
                "source_version": values.excluded.source_version,
                "updated_at": func.now(),
            },
            where=(Workspace.deleted_at.is_(None))
            & (Workspace.source_version <= values.excluded.source_version),
        ).returning(Workspace.workspace_id)
        return (await self.session.execute(stmt)).first() is not None

    async def tombstone(
        self,
        workspace_id: uuid.UUID,
        owner_id: uuid.UUID,
        handle: str,
        timezone: str,
        version: datetime,
    ) -> None:
        stmt = pg_insert(Workspace).values(
            workspace_id=workspace_id,
            owner_id=owner_id,
            handle=handle,
            timezone=timezone,
            source_version=version,
            deleted_at=func.now(),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[Workspace.workspace_id],
            set_={"deleted_at": func.coalesce(Workspace.deleted_at, func.now())},
        )
        await self.session.execute(stmt)


class ServiceRepository:
    """The projected catalogue (`workspace_service.*` events)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(
        self,
        service_id: uuid.UUID,
        workspace_id: uuid.UUID,
        *,
        name: str,
        description: str | None,
        duration_minutes: int,
        is_active: bool,
        position: int,
        version: datetime,
    ) -> bool:
        """Insert or refresh a service; stale or post-deletion events change nothing."""
        values = pg_insert(WorkspaceService).values(
            service_id=service_id,
            workspace_id=workspace_id,
            name=name,
            description=description,
            duration_minutes=duration_minutes,
            is_active=is_active,
            position=position,
            source_version=version,
        )
        excluded = values.excluded
        stmt = values.on_conflict_do_update(
            index_elements=[WorkspaceService.service_id],
            set_={
                "name": excluded.name,
                "description": excluded.description,
                "duration_minutes": excluded.duration_minutes,
                "is_active": excluded.is_active,
                "position": excluded.position,
                "source_version": excluded.source_version,
                "updated_at": func.now(),
            },
            where=(WorkspaceService.deleted_at.is_(None))
            & (WorkspaceService.source_version <= excluded.source_version),
        ).returning(WorkspaceService.service_id)
        return (await self.session.execute(stmt)).first() is not None

    async def tombstone(
        self, service_id: uuid.UUID, workspace_id: uuid.UUID, version: datetime
    ) -> None:
        stmt = pg_insert(WorkspaceService).values(
            service_id=service_id,
            workspace_id=workspace_id,
            name="",
            duration_minutes=0,
            is_active=False,
            source_version=version,
            deleted_at=func.now(),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[WorkspaceService.service_id],
            set_={
                "is_active": False,
                "deleted_at": func.coalesce(WorkspaceService.deleted_at, func.now()),
            },
        )
        await self.session.execute(stmt)

    async def delete_of_workspace(self, workspace_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(WorkspaceService).where(WorkspaceService.workspace_id == workspace_id)
        )

    async def bookable(self, workspace_id: uuid.UUID) -> Sequence[WorkspaceService]:
        stmt = (
            select(WorkspaceService)
            .where(
                WorkspaceService.workspace_id == workspace_id,
                WorkspaceService.is_active.is_(True),
                WorkspaceService.deleted_at.is_(None),
            )
            .order_by(WorkspaceService.position, WorkspaceService.name)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def bookable_one(self, workspace_id: uuid.UUID, service_id: uuid.UUID) -> Row | None:
        """The active service's columns (`service_id`, `duration_minutes`...), read on its
        own (no transaction is begun for it)."""
        params = {"service_id": service_id, "workspace_id": workspace_id}
        return await Raw(self.session, transaction=False).row(_BOOKABLE_ONE, params)


@dataclass(frozen=True)
class BookingFilter:
    starts_from: datetime | None = None
    starts_before: datetime | None = None
    event_type: str | None = None
    status: str | None = None
    contact_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None


class ConnectorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, connector: Connector) -> None:
        self.session.add(connector)

    async def get(
        self, connector_id: uuid.UUID, workspace_id: uuid.UUID, *, lock: bool = False
    ) -> Connector | None:
        stmt = select(Connector).where(
            Connector.id == connector_id, Connector.workspace_id == workspace_id
        )
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def page(
        self, workspace_id: uuid.UUID, skip: int, limit: int
    ) -> tuple[Sequence[Connector], int]:
        where = Connector.workspace_id == workspace_id
        count = await self.session.scalar(select(func.count()).select_from(Connector).where(where))
        rows = (
            await self.session.execute(
                select(Connector)
                .where(where)
                .order_by(Connector.created_at, Connector.id)
                .offset(skip)
                .limit(limit)
            )
        ).scalars()
        return list(rows), int(count or 0)

    async def active_context(self, owner_id: uuid.UUID) -> Row | None:
        """What a scheduling call needs of the owner's live workspace and its active
        connector (`connector_id`, `workspace_id`, `provider`, `timezone`,
        `config_encrypted`), in one statement read on its own (no transaction is begun for
        it: every availability answer and booking starts with it); None if either is missing
        (see `usecases.connectors.active_connector` for which)."""
        return await Raw(self.session, transaction=False).row(
            _ACTIVE_CONTEXT, {"owner_id": owner_id}
        )

    async def active_of_owner(self, owner_id: uuid.UUID) -> tuple[Workspace, Connector] | None:
        """The owner's live workspace (the newest, as `WorkspaceRepository.of_owner` picks it)
        and its active connector, in one statement; None if either is missing."""
        row = (await self.session.execute(_ACTIVE_OF_OWNER, {"owner_id": owner_id})).first()
        return (row[0], row[1]) if row is not None else None

    async def active(self, workspace_id: uuid.UUID) -> Connector | None:
        stmt = select(Connector).where(
            Connector.workspace_id == workspace_id, Connector.is_active.is_(True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def of_workspace(self, workspace_id: uuid.UUID) -> Sequence[Connector]:
        stmt = select(Connector).where(Connector.workspace_id == workspace_id)
        return list((await self.session.execute(stmt)).scalars())

    async def delete(self, connector: Connector) -> None:
        await self.session.delete(connector)
        await self.session.flush()

    async def delete_of_workspace(self, workspace_id: uuid.UUID) -> int:
        result = await self.session.execute(
            delete(Connector).where(Connector.workspace_id == workspace_id)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def deactivate_all(self, workspace_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Connector)
            .where(Connector.workspace_id == workspace_id, Connector.is_active.is_(True))
            .values(is_active=False, updated_at=func.now())
        )

    async def matching(self, provider: str, **refs: str | None) -> Sequence[Connector]:
        """Connectors of a provider whose stored references match any of the given ones."""
        conditions = [
            getattr(Connector, column) == value for column, value in refs.items() if value
        ]
        if not conditions:
            return []

        stmt = (
            select(Connector)
            .where(Connector.provider == provider, or_(*conditions))
            .order_by(Connector.is_active.desc(), Connector.created_at)
        )
        return list((await self.session.execute(stmt)).scalars())


class BookingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, booking: Booking) -> None:
        self.session.add(booking)

    async def by_key(self, connector_id: uuid.UUID, idempotency_key: str) -> Booking | None:
        """The live booking made with this key: a cancelled one no longer answers for it."""
        stmt = select(Booking).where(
            Booking.connector_id == connector_id,
            Booking.idempotency_key == idempotency_key,
            Booking.status == "confirmed",
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def cancelled_with_key(self, connector_id: uuid.UUID, idempotency_key: str) -> int:
        stmt = select(func.count()).where(
            Booking.connector_id == connector_id,
            Booking.idempotency_key == idempotency_key,
            Booking.status == "cancelled",
        )
        return int(await self.session.scalar(stmt) or 0)

    async def of_workspace(
        self,
        workspace_id: uuid.UUID,
        external_id: str,
        *,
        prefer_connector: uuid.UUID | None = None,
        lock: bool = False,
    ) -> Booking | None:
        """A booking of the workspace by the id its reads show. Ids are unique per connector:
        should two connectors of the workspace share one, the preferred (active) one's wins,
        then the newest."""
        order = [Booking.created_at.desc(), Booking.id]
        if prefer_connector is not None:
            order.insert(0, (Booking.connector_id == prefer_connector).desc())
        stmt = (
            select(Booking)
            .where(Booking.workspace_id == workspace_id, Booking.external_id == external_id)
            .order_by(*order)
            .limit(1)
        )
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_external_id(
        self, connector_id: uuid.UUID, external_id: str, *, lock: bool = False
    ) -> Booking | None:
        stmt = select(Booking).where(
            Booking.connector_id == connector_id, Booking.external_id == external_id
        )
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def held(
        self, workspace_id: uuid.UUID, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """Time held by confirmed built-in bookings that reaches into `[start, end)`, read on
        its own (no transaction is begun for it): an answer to show, or a booking's early
        refusal; the exclusion constraint decides a race."""
        params = {"workspace_id": workspace_id, "start": start, "end": end}
        rows = await Raw(self.session, transaction=False).rows(_HELD, params)
        return [(a, b) for a, b in rows if a and b]

    async def page(
        self, workspace_id: uuid.UUID, where: BookingFilter, skip: int, limit: int
    ) -> tuple[Sequence[Booking], int]:
        conditions = [Booking.workspace_id == workspace_id]
        if where.starts_from is not None:
            conditions.append(Booking.start_at >= where.starts_from)
        if where.starts_before is not None:
            conditions.append(Booking.start_at < where.starts_before)
        if where.event_type is not None:
            conditions.append(Booking.event_type == where.event_type)
        if where.status is not None:
            conditions.append(Booking.status == where.status)
        if where.contact_id is not None:
            conditions.append(Booking.contact_id == where.contact_id)
        if where.conversation_id is not None:
            conditions.append(Booking.conversation_id == where.conversation_id)
        count = await self.session.scalar(
            select(func.count()).select_from(Booking).where(*conditions)
        )
        rows = (
            await self.session.execute(
                select(Booking)
                .where(*conditions)
                .order_by(Booking.start_at, Booking.id)
                .offset(skip)
                .limit(limit)
            )
        ).scalars()
        return list(rows), int(count or 0)


class WebhookReceiptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, provider: str, delivery_key: str, event_type: str) -> int | None:
        """Record a delivery; None when the same delivery was already recorded."""
        stmt = (
            pg_insert(WebhookReceipt)
            .values(
                provider=provider,
                delivery_key=delivery_key,
                event_type=event_type,
                outcome="received",
            )
            .on_conflict_do_nothing()
            .returning(WebhookReceipt.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def settle(
        self, receipt_id: int, outcome: str, connector_id: uuid.UUID | None = None
    ) -> None:
        await self.session.execute(
            update(WebhookReceipt)
            .where(WebhookReceipt.id == receipt_id)
            .values(outcome=outcome, connector_id=connector_id)
        )

    async def count(self, provider: str, delivery_key: str) -> int:
        stmt = select(func.count()).where(
            WebhookReceipt.provider == provider, WebhookReceipt.delivery_key == delivery_key
        )
        return int(await self.session.scalar(stmt) or 0)


_NEWEST_WORKSPACE = (
    select(Workspace.workspace_id)
    .where(Workspace.owner_id == bindparam("owner_id"), Workspace.deleted_at.is_(None))
    .order_by(Workspace.source_version.desc())
    .limit(1)
    .scalar_subquery()
)
_ACTIVE_OF_OWNER = (
    select(Workspace, Connector)
    .join(
        Connector,
        (Connector.workspace_id == Workspace.workspace_id) & Connector.is_active.is_(True),
    )
    .where(Workspace.workspace_id == _NEWEST_WORKSPACE)
)

_ACTIVE_CONTEXT = Prepared(
    select(
        Connector.id.label("connector_id"),
        Workspace.workspace_id,
        Connector.provider,
        Workspace.timezone,
        Connector.config_encrypted,
    )
    .join(
        Connector,
        (Connector.workspace_id == Workspace.workspace_id) & Connector.is_active.is_(True),
    )
    .where(Workspace.workspace_id == _NEWEST_WORKSPACE)
)

# The built-in calendar's reads for every availability answer, built once and run on asyncpg
# directly (shared.db.raw): through the session each cost three times asyncpg's CPU.
_BOOKABLE_ONE = Prepared(
    select(WorkspaceService.__table__).where(
        WorkspaceService.service_id == bindparam("service_id"),
        WorkspaceService.workspace_id == bindparam("workspace_id"),
        WorkspaceService.is_active.is_(True),
        WorkspaceService.deleted_at.is_(None),
    )
)
_HELD = Prepared(
    select(Booking.held_from, Booking.held_until).where(
        Booking.workspace_id == bindparam("workspace_id"),
        Booking.provider == "builtin",
        Booking.status == "confirmed",
        Booking.held_from < bindparam("end"),
        Booking.held_until > bindparam("start"),
    )
)
