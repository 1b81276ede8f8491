"""The owner's reminders: settings per workspace, and the jobs planned for its bookings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from conversations.api.deps import UowDep
from conversations.domain.reminders import LANGS, MAX_TEXT
from conversations.reminders.repository import JobFilter
from conversations.usecases.reminders import (
    ReminderSettingsView,
    change_reminder_settings,
    list_reminders,
    read_reminder_settings,
)
from shared.web import Page, PaginationDep, PrincipalDep

router = APIRouter(prefix="/reminders", tags=["reminders"])

JobStatus = Literal["scheduled", "sent", "failed", "skipped", "cancelled"]
Clock = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5)]


class QuietHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: Clock = Field(description="HH:MM, the workspace's local time, e.g. 21:00")
    end: Clock = Field(description="HH:MM; before `start` spans midnight, e.g. 08:00")


class WhatsAppTemplate(BaseModel):
    """An approved template whose body takes {{1}} name, {{2}} service, {{3}} time, {{4}}
    business, with three quick-reply buttons: Confirm, Cancel, Change."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    language: str = Field(
        min_length=2,
        max_length=15,
        pattern=r"^[a-z]{2,3}(_[A-Za-z0-9]{2,8})?$",
        description="Template language code, e.g. `en_US`",
    )


_TEXTS_DOC = (
    f"Reminder text per language ({', '.join(LANGS)}), at most {MAX_TEXT} characters, with "
    "the placeholders {name} {service} {time} {business}; languages not given use ours"
)


class ReminderSettingsRead(BaseModel):
    enabled: bool
    offsets_minutes: list[int] = Field(description="Minutes before the appointment, 1 to 3")
    quiet_hours: QuietHours | None
    texts: dict[str, str] = Field(description=_TEXTS_DOC)
    whatsapp_template: WhatsAppTemplate | None = Field(
        description="Sent outside WhatsApp's 24 h window; without it such reminders fail"
    )

    @classmethod
    def of(cls, view: ReminderSettingsView) -> ReminderSettingsRead:
        return cls(
            enabled=view.enabled,
            offsets_minutes=view.offsets_minutes,
            quiet_hours=QuietHours(**view.quiet_hours) if view.quiet_hours else None,
            texts=view.texts,
            whatsapp_template=(
                WhatsAppTemplate(**view.whatsapp_template) if view.whatsapp_template else None
            ),
        )


class ReminderSettingsUpdate(BaseModel):
    """Partial: fields not sent keep their value; `quiet_hours: null` and
    `whatsapp_template: null` turn them off, `texts` replaces all texts."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    offsets_minutes: list[int] | None = Field(
        default=None, max_length=10, description="1 to 3 values, each 1..43200 minutes"
    )
    quiet_hours: QuietHours | None = None
    texts: dict[Annotated[str, StringConstraints(max_length=5)], str] | None = Field(
        default=None, max_length=10, description=_TEXTS_DOC
    )
    whatsapp_template: WhatsAppTemplate | None = None


class ReminderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    booking_id: str
    kind: Literal["reminder", "confirmation", "cancellation"]
    offset_minutes: int = Field(description="Minutes before the appointment (0: confirmation)")
    start_at: datetime = Field(
        description="The appointment start it was planned for (a moved booking has jobs for "
        "each start: those sent for the old one stay)"
    )
    due_at: datetime
    status: JobStatus
    reason: str | None
    message_id: uuid.UUID | None = Field(description="The conversation message it was sent as")
    conversation_id: uuid.UUID | None


@router.get("/settings", response_model=ReminderSettingsRead)
async def get_reminder_settings(principal: PrincipalDep, uow: UowDep) -> ReminderSettingsRead:
    return ReminderSettingsRead.of(await read_reminder_settings(uow, principal))


@router.patch("/settings", response_model=ReminderSettingsRead)
async def patch_reminder_settings(
    body: ReminderSettingsUpdate, principal: PrincipalDep, uow: UowDep
) -> ReminderSettingsRead:
    """Bookings planned from now on follow the new settings; jobs already planned keep their
    times (turning reminders off skips them when they come due)."""
    changes = body.model_dump(exclude_unset=True)
    return ReminderSettingsRead.of(await change_reminder_settings(uow, principal, changes))


@router.get("/", response_model=Page[ReminderRead])
async def get_reminders(
    principal: PrincipalDep,
    uow: UowDep,
    page: PaginationDep,
    status: JobStatus | None = None,
    booking_id: Annotated[str | None, Query(min_length=1, max_length=300)] = None,
) -> Page[ReminderRead]:
    """The workspace's reminders and confirmations, latest due first."""
    rows, count = await list_reminders(
        uow, principal, JobFilter(status=status, booking_id=booking_id), page.skip, page.limit
    )
    return Page(data=[ReminderRead.model_validate(r) for r in rows], count=count)
