"""API schemas: Create / Update / Read per resource."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from conversations.domain.rules import Channel, Role, Status, normalize_tags
from conversations.usecases.channel_accounts import ChannelAccountView
from shared.instants import Instant

AccountChannel = Literal["whatsapp", "messenger", "instagram", "sms", "chatgpt", "phone"]
Tags = Annotated[list[str], Field(max_length=20), AfterValidator(normalize_tags)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


_CREDENTIALS_DOC = (
    "What replies are sent with, by channel (the account's `channel` is implied): whatsapp "
    "`{access_token}`; messenger, instagram `{page_access_token}`; sms `{account_sid, "
    "auth_token}` or `{account_sid, api_key_sid, api_key_secret}`; chatgpt, phone "
    "`{callback_url, signing_secret?}` (a signing secret is generated when not given and "
    "shown once). Unknown fields are refused. Omit it for an account that only receives."
)


class ChannelAccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: AccountChannel
    account_id: ShortText = Field(
        description="WhatsApp phone_number_id, Messenger page id, Instagram account id, "
        "Twilio phone number (E.164) or the integrator's account id"
    )
    name: ShortText | None = None
    credentials: Annotated[dict[str, Any] | None, Field(description=_CREDENTIALS_DOC)] = None


class ChannelAccountUpdate(BaseModel):
    """Partial: credential fields not sent keep their values; `credentials: null` removes
    them."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText | None = None
    credentials: Annotated[dict[str, Any] | None, Field(description=_CREDENTIALS_DOC)] = None


class ChannelAccountRead(BaseModel):
    id: uuid.UUID
    channel: str
    account_id: str
    name: str | None
    created_at: datetime
    credentials: dict[str, Any] | None = Field(
        description="Masked (`****abcd`); null when the account only receives"
    )
    can_send: bool = Field(description="Whether replies on this account can be sent")
    signing_secret: str | None = Field(
        default=None,
        description="Only in the answer that generated it (chatgpt, phone): the secret our "
        "callbacks are signed with. Store it; it is never shown again.",
    )
    verification: Literal["verified", "unverified", "failed"] = Field(
        description="Only a verified account receives messages: the provider confirmed that "
        "its credentials reach this account (chatgpt, phone: proved by the inbound signing "
        "secret)"
    )
    verification_reason: str | None = Field(
        description="Why it is not verified (or why the last check could not be made)"
    )
    verified_at: datetime | None
    inbound_signing_secret: str | None = Field(
        default=None,
        description="Only in the answer that created or rotated it (chatgpt, phone): what the "
        "integrator signs its posts to /api/v1/webhooks/inbound/{channel} with "
        "(X-Base-Signature), naming this account's id in X-Base-Account. Store it; it is "
        "never shown again.",
    )

    @classmethod
    def of(cls, view: ChannelAccountView) -> ChannelAccountRead:
        a = view.account
        return cls(
            id=a.id,
            channel=a.channel,
            account_id=a.account_id,
            name=a.name,
            created_at=a.created_at,
            credentials=view.credentials,
            can_send=view.credentials is not None and "unreadable" not in view.credentials,
            signing_secret=view.signing_secret,
            verification=a.verification,  # type: ignore[arg-type]
            verification_reason=a.verification_reason,
            verified_at=a.verified_at,
            inbound_signing_secret=view.inbound_signing_secret,
        )


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
    started_at: Instant | None = None


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
    contact_id: uuid.UUID = Field(description="The person: `GET /api/v1/contacts/{id}`")
    status: str
    tags: list[str]
    time_saved_seconds: int = Field(
        description="Owner minutes per agent reply sent before any handoff (agent settings), "
        "unless the owner corrected it"
    )
    message_count: int
    started_at: datetime
    last_message_at: datetime | None
    agent_paused: bool = Field(
        default=False, description="The agent is silent here until the owner hands it back"
    )
    handoff_reason: str | None = None
    handed_off_at: datetime | None = None
    agent_replies: int = 0
    agent_booking: dict[str, Any] | None = Field(
        default=None, description="The booking the agent made: id, service_id, service, start"
    )
    resolved_by: str | None = Field(default=None, description="`agent` or `owner`")
    resolved_at: datetime | None = None


class TemplateCreate(BaseModel):
    """A WhatsApp message template approved in Meta's WhatsApp Manager."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    language: str = Field(
        min_length=2,
        max_length=15,
        pattern=r"^[a-z]{2,3}(_[A-Za-z0-9]{2,8})?$",
        description="Template language code, e.g. `en_US`",
    )
    parameters: list[Annotated[str, StringConstraints(min_length=1, max_length=1024)]] = Field(
        default_factory=list, max_length=20, description="Body parameters {{1}}, {{2}}... in order"
    )


class MessageCreate(BaseModel):
    """An owner's reply. Agent messages are written by the agent only (`role` other than
    `owner` is a 422); a reply is sent now, so it carries no `sent_at`."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: uuid.UUID
    content: Text | None = Field(default=None, description="Required unless a template is sent")
    role: Literal["owner"] = "owner"
    template: TemplateCreate | None = Field(
        default=None,
        description="WhatsApp only: a template message, allowed outside the 24 h window",
    )

    @model_validator(mode="after")
    def _something_to_send(self) -> MessageCreate:
        if self.content is None and self.template is None:
            raise ValueError("give content, or a template (WhatsApp)")
        return self


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
    delivery_status: str | None = Field(
        description="Replies only: pending, sending, sent, delivered, read, failed, unknown"
    )
    delivery_error: str | None = Field(
        default=None, description="Why it failed, or why its outcome is unknown"
    )


class WebConversationCreate(BaseModel):
    visitor_name: ShortText | None = None
    visitor_contact: ShortText | None = Field(
        default=None, description="Free text; kept on the contact when it is an e-mail or phone"
    )
    visitor_email: ShortText | None = Field(
        default=None, description="Kept on the contact, unverified; a malformed one is a 422"
    )
    visitor_phone: ShortText | None = Field(
        default=None,
        description="Kept on the contact in E.164, unverified; without a country code it is "
        "read in the workspace's country; a malformed one is a 422",
    )


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


class AgentStats(BaseModel):
    conversations: int = Field(description="Conversations the agent answered")
    resolved_without_person: int = Field(
        description="Resolved by the agent, with no handoff and no owner message"
    )
    bookings: int = Field(description="Bookings the agent made (not cancelled since)")
    handoffs: int
    handoff_rate: float | None = Field(description="handoffs / conversations the agent answered")
    median_first_reply_seconds: float | None = Field(
        description="First visitor message to the agent's first reply"
    )


class ReminderStats(BaseModel):
    sent: int = Field(description="Reminders written and queued for delivery in the range")
    failed: int = Field(description="Reminders that could not go (e.g. no WhatsApp template)")
    confirmations_sent: int = Field(description="Booking confirmations sent in the range")
    visitor_confirmed: int = Field(description="Bookings the visitor confirmed in the range")
    cancelled_after_reminder: int = Field(
        description="Bookings cancelled in the range (by anyone) after a reminder of them went"
    )
    moved_after_reminder: int = Field(
        description="Bookings moved to another time in the range after a reminder of them went"
    )


class AttendanceStats(BaseModel):
    attended: int = Field(description="Appointments in the range the owner marked attended")
    no_show: int = Field(description="Appointments in the range the owner marked no-show")
    no_show_rate: float | None = Field(
        description="no_show / (attended + no_show); null when none is marked"
    )


class StatsRead(BaseModel):
    start: date
    end: date
    timezone: str
    conversations: Breakdown
    messages: MessageBreakdown
    first_response: FirstResponse
    time_saved: TimeSaved
    agent: AgentStats
    reminders: ReminderStats
    attendance: AttendanceStats


class ContactRead(_Read):
    id: uuid.UUID
    name: str | None
    phone: str | None = Field(description="E.164")
    email: str | None
    phone_verified: bool = Field(description="Proven by the channel (WhatsApp, SMS) or a code")
    email_verified: bool
    phone_verified_at: datetime | None
    email_verified_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ContactIdentityRead(_Read):
    channel: str
    external_id: str = Field(
        description="WhatsApp/SMS number, Messenger PSID, Instagram id, web chat visitor id..."
    )
    created_at: datetime


class ContactConversationRead(_Read):
    id: uuid.UUID
    channel: str
    status: str
    started_at: datetime
    last_message_at: datetime | None


class ContactDetailRead(ContactRead):
    identities: list[ContactIdentityRead]
    conversations: list[ContactConversationRead]
    bookings: list[dict[str, Any]] | None = Field(
        description="The contact's bookings as the connectors service reads them; null when "
        "they could not be read (see `bookings_note`)"
    )
    bookings_note: str | None = None


class ContactUpdate(BaseModel):
    """Partial; `null` clears a field. A phone or e-mail typed here is unverified (a change
    resets its verification; the same value keeps it)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = Field(
        default=None,
        description="Any usual writing; without a country code it is read in the workspace's "
        "country; stored E.164",
    )
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)] | None = None


class ContactMerge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    other_id: uuid.UUID = Field(description="The contact that joins this one and is deleted")
