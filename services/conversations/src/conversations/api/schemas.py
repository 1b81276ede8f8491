"""API schemas: Create / Update / Read per resource."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from conversations.domain.rules import Channel, Role, Status, normalize_tags

AccountChannel = Literal["whatsapp", "messenger", "instagram", "sms", "chatgpt", "phone"]
Tags = Annotated[list[str], Field(max_length=20), AfterValidator(normalize_tags)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ChannelAccountCreate(BaseModel):
    channel: AccountChannel
    account_id: ShortText = Field(
        description="WhatsApp phone_number_id, Messenger page id, Instagram account id, "
        "Twilio phone number (E.164) or the integrator's account id"
    )
    name: ShortText | None = None


class ChannelAccountRead(_Read):
    id: uuid.UUID
    channel: str
    account_id: str
    name: str | None
    created_at: datetime


class ConversationCreate(BaseModel):
    channel: Channel = "phone"
    visitor_id: ShortText | None = Field(
        default=None, description="The channel's id for the visitor; generated when absent"
    )
    visitor_name: ShortText | None = None
    visitor_contact: ShortText | None = None
    status: Status = "open"
    tags: Tags = []
    time_saved_seconds: int = Field(default=0, ge=0, le=10_000_000)
    started_at: AwareDatetime | None = None


class ConversationUpdate(BaseModel):
    status: Status | None = None
    tags: Tags | None = None
    time_saved_seconds: int | None = Field(default=None, ge=0, le=10_000_000)
    visitor_name: ShortText | None = None


class ConversationRead(_Read):
    id: uuid.UUID
    workspace_id: uuid.UUID
    channel: str
    visitor_id: str
    visitor_name: str | None
    visitor_contact: str | None
    status: str
    tags: list[str]
    time_saved_seconds: int = Field(
        description="Sum of 120 s per agent message, unless the owner corrected it"
    )
    message_count: int
    started_at: datetime
    last_message_at: datetime | None


class MessageCreate(BaseModel):
    conversation_id: uuid.UUID
    content: Text
    role: Literal["owner", "agent"] = "owner"
    sent_at: AwareDatetime | None = None


class MessageRead(_Read):
    id: uuid.UUID
    conversation_id: uuid.UUID
    role: Role
    content: str
    channel: str
    external_id: str | None
    sent_at: datetime
    created_at: datetime
    metadata: dict[str, Any] = Field(validation_alias="meta")
    delivery_status: str | None


class WebConversationCreate(BaseModel):
    visitor_name: ShortText | None = None
    visitor_contact: ShortText | None = None


class WebConversationOpened(BaseModel):
    conversation_id: uuid.UUID
    visitor_token: str = Field(description="Send it back as the X-Visitor-Token header")


class VisitorMessageCreate(BaseModel):
    content: Text


class VisitorMessageRead(_Read):
    id: uuid.UUID
    role: Role
    content: str
    sent_at: datetime


class Breakdown(BaseModel):
    total: int
    by_channel: dict[str, int]
    by_status: dict[str, int]
    by_tag: dict[str, int]


class MessageBreakdown(Breakdown):
    by_role: dict[str, int]


class FirstResponse(BaseModel):
    answered: int = Field(description="Conversations with a reply after the first visitor message")
    average_seconds: float | None
    median_seconds: float | None


class DayTotal(BaseModel):
    date: date
    seconds: int


class TimeSaved(BaseModel):
    total_seconds: int
    per_day: list[DayTotal]


class StatsRead(BaseModel):
    start: date
    end: date
    timezone: str
    conversations: Breakdown
    messages: MessageBreakdown
    first_response: FirstResponse
    time_saved: TimeSaved
