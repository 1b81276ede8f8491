"""The active connector's provider, as the rest of the platform uses it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from connectors.api.deps import ServicesDep, UserDep
from connectors.api.schemas import (
    AvailabilityQuery,
    AvailabilityRead,
    BookingCreate,
    BookingListQuery,
    BookingRead,
    BookingUpdate,
    EventTypeRead,
    HoursRead,
    SlotRead,
)
from connectors.domain.scheduling import Visitor
from connectors.usecases import scheduling as uc
from connectors.usecases.hours import read_opening_hours
from shared.web import Page, PaginationDep

router = APIRouter(prefix="/connectors/active", tags=["scheduling"])


@router.get("/event-types")
async def list_event_types(user: UserDep, services: ServicesDep) -> Page[EventTypeRead]:
    types = await uc.list_event_types(services.uow, services.vault, services.providers, user)
    data = [
        EventTypeRead(
            id=t.id, name=t.name, duration_minutes=t.duration_minutes, description=t.description
        )
        for t in types
    ]
    return Page(data=data, count=len(data))


@router.get("/availability")
async def availability(
    query: Annotated[AvailabilityQuery, Query()], user: UserDep, services: ServicesDep
) -> AvailabilityRead:
    """Free slots between two dates (inclusive), in the workspace's timezone."""
    timezone, slots = await uc.find_availability(
        services.uow,
        services.vault,
        services.providers,
        user,
        query.event_type,
        query.start,
        query.end,
    )
    data = [SlotRead(start=s.start, end=s.end, staff_id=s.staff_id) for s in slots]
    return AvailabilityRead(timezone=timezone, data=data, count=len(data))


@router.get(
    "/hours",
    responses={status.HTTP_404_NOT_FOUND: {"description": "No active connector"}},
)
async def opening_hours(user: UserDep, services: ServicesDep) -> HoursRead:
    """Weekly opening hours and upcoming date overrides, wall clock in the workspace's
    timezone, with the booking horizon and notice; `known: false` when the provider cannot
    tell (the free times are then the answer)."""
    hours = await read_opening_hours(services.uow, services.vault, user)
    return HoursRead.of(hours)


@router.get("/bookings")
async def list_bookings(
    query: Annotated[BookingListQuery, Query()],
    user: UserDep,
    services: ServicesDep,
    page: PaginationDep,
) -> Page[BookingRead]:
    """The workspace's bookings, whatever the provider, by start: made here (the built-in
    calendar, or through this API) or reported by a provider's webhook."""
    _, rows, count = await uc.list_bookings(
        services.uow,
        user,
        uc.BookingQuery(
            upcoming=query.upcoming,
            day=query.day,
            event_type=query.event_type,
            status=query.status,
            contact_id=query.contact_id,
            conversation_id=query.conversation_id,
        ),
        page.skip,
        page.limit,
    )
    data = [BookingRead.of(row) for row in rows]
    return Page(data=data, count=count)


@router.post("/bookings", status_code=status.HTTP_201_CREATED)
async def create_booking(
    body: BookingCreate, user: UserDep, services: ServicesDep, response: Response
) -> BookingRead:
    """Book a slot for a visitor: 201 with the new booking, or 200 with the live booking a
    repeated idempotency key made. A key whose booking was cancelled books again. Read
    `status`: only `confirmed` holds the time."""
    outcome = await uc.create_booking(
        services.uow,
        services.vault,
        services.providers,
        user,
        event_type=body.event_type,
        start=body.start,
        visitor=Visitor(name=body.name, email=body.email, phone=body.phone),
        staff_id=body.staff_id,
        notes=body.notes,
        idempotency_key=body.idempotency_key,
        conversation_id=body.conversation_id,
        contact_id=body.contact_id,
    )
    if outcome.replayed:
        response.status_code = status.HTTP_200_OK
    return BookingRead.of(outcome.booking)


@router.patch("/bookings/{booking_id}")
async def mark_booking(
    booking_id: Annotated[str, Path(max_length=300)],
    body: BookingUpdate,
    user: UserDep,
    services: ServicesDep,
) -> BookingRead:
    """The owner marks attendance once the booking has started (`attended`, `no_show`, or
    null to clear); `visitor_confirmed: true` records that the visitor confirmed."""
    row = await uc.mark_booking(services.uow, user, booking_id, body.change())
    return BookingRead.of(row)


@router.delete("/bookings/{booking_id}", status_code=status.HTTP_204_NO_CONTENT)
async def cancel_booking(
    booking_id: str,
    user: UserDep,
    services: ServicesDep,
    reason: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    await uc.cancel_booking(
        services.uow, services.vault, services.providers, user, booking_id, reason
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
