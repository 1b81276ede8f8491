"""Bookings made or cancelled outside the platform, reported by provider webhooks.

One transaction per delivery: the receipt (which de-duplicates provider retries), the
booking row and the outbox event commit together. An unknown account is recorded and
answered 200, so the provider does not retry it forever.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from connectors.db.models import Booking as BookingRow
from connectors.db.models import Connector
from connectors.db.uow import ConnectorsUnitOfWork
from connectors.domain.webhooks import ProviderBookingEvent
from shared.events import BookingCancelledV1, BookingCreatedV1

log = logging.getLogger(__name__)


async def _route(uow: ConnectorsUnitOfWork, event: ProviderBookingEvent) -> Connector | None:
    candidates: list[Connector] = []
    if event.location_ref:
        candidates = list(
            await uow.connectors.matching(event.provider, location_ref=event.location_ref)
        )
    if not candidates:
        for ref in event.account_refs:
            for connector in await uow.connectors.matching(
                event.provider, account_ref=ref, organization_ref=ref
            ):
                if connector not in candidates:
                    candidates.append(connector)
    # Only an active connector speaks for an account, and for Square only one whose token
    # was shown to see the location (the id itself is whatever an owner typed), of the
    # merchant the notification names. Should several workspaces share one account, the
    # one that already knows the booking wins, else the oldest.
    active = [c for c in candidates if c.is_active and _proven(c, event)]
    if len(active) > 1 and event.booking_id:
        log.warning(
            "provider account shared by several workspaces",
            extra={"provider": event.provider, "connectors": len(active)},
        )
        for connector in active:
            if await uow.bookings.by_external_id(connector.id, event.booking_id):
                return connector
    return active[0] if active else None


def _proven(connector: Connector, event: ProviderBookingEvent) -> bool:
    if event.provider != "square":
        return True
    if connector.verified_at is None:
        return False
    return not event.account_refs or connector.account_ref in event.account_refs


async def record_provider_event(
    uow_factory: Callable[[], ConnectorsUnitOfWork], event: ProviderBookingEvent
) -> str:
    """Returns the outcome: duplicate, ignored, unrouted, known or emitted.

    A platform booking committed at the same moment can collide on the booking row; the
    second attempt then sees it and answers `known`.
    """
    for attempt in (1, 2):
        try:
            async with uow_factory() as uow:
                receipt = await uow.webhooks.claim(
                    event.provider, event.delivery_key, event.event_type
                )
                if receipt is None:
                    return "duplicate"
                outcome = await _apply(uow, event, receipt)
                await uow.commit()
            break
        except IntegrityError:
            if attempt == 2:
                raise
    log.info(
        "provider webhook handled",
        extra={"provider": event.provider, "event_type": event.event_type, "outcome": outcome},
    )
    return outcome


async def _apply(uow: ConnectorsUnitOfWork, event: ProviderBookingEvent, receipt: int) -> str:
    if event.kind == "ignored" or not event.booking_id:
        await uow.webhooks.settle(receipt, "ignored")
        return "ignored"
    connector = await _route(uow, event)
    if connector is None:
        await uow.webhooks.settle(receipt, "unrouted")
        return "unrouted"
    row = await uow.bookings.by_external_id(connector.id, event.booking_id, lock=True)
    if event.kind == "created":
        if row is not None:  # made through the platform, already announced
            await uow.webhooks.settle(receipt, "known", connector.id)
            return "known"
        if event.start is None:
            await uow.webhooks.settle(receipt, "ignored", connector.id)
            return "ignored"
        uow.bookings.add(
            BookingRow(
                id=uuid.uuid4(),
                connector_id=connector.id,
                workspace_id=connector.workspace_id,
                provider=connector.provider,
                external_id=event.booking_id,
                status="confirmed",
                source="provider",
                event_type=event.service,
                start_at=event.start,
                end_at=event.end,
                # Kept for the owner's bookings list; cut to the columns, never refused.
                visitor_name=_cut(event.visitor_name, 200),
                visitor_email=_cut(event.visitor_email, 320),
                visitor_phone=_cut(event.visitor_phone, 32),
            )
        )
        await uow.emit(
            BookingCreatedV1(
                workspace_id=connector.workspace_id,
                connector_id=connector.id,
                provider=event.provider,
                booking_id=event.booking_id,
                event_type=event.service,
                start=event.start,
                end=event.end,
                visitor_name=event.visitor_name,
                visitor_email=event.visitor_email,
                visitor_phone=event.visitor_phone,
                source="provider",
            )
        )
    else:
        if row is not None:
            if row.status == "cancelled":
                await uow.webhooks.settle(receipt, "known", connector.id)
                return "known"
            row.status = "cancelled"
            row.updated_at = datetime.now(UTC)
        await uow.emit(
            BookingCancelledV1(
                workspace_id=connector.workspace_id,
                connector_id=connector.id,
                provider=event.provider,
                booking_id=event.booking_id,
                reason=event.reason,
                source="provider",
            )
        )
    await uow.webhooks.settle(receipt, "emitted", connector.id)
    return "emitted"


def _cut(value: str | None, length: int) -> str | None:
    return value[:length] if value else None
