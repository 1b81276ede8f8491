"""Events produced by the workspaces service."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.events.base import Event, register


class WorkspacePoliciesV1(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    cancellation: str | None = None
    lateness: str | None = None
    deposit: str | None = None


class WorkspaceFaqEntryV1(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    question: str
    answer: str
    language: str | None = None


class _WorkspaceSnapshot(Event):
    workspace_id: UUID
    owner_id: UUID
    handle: str
    name: str
    tone: str
    timezone: str
    # Business facts, added within V1: a producer that predates them leaves them out, and a
    # consumer then keeps what it knew (see `model_fields_set`). A newer producer always
    # sends them all, null or empty where the business has none.
    address: str | None = None
    map_url: str | None = None
    phone: str | None = None  # E.164
    email: str | None = None
    payment_methods: tuple[str, ...] | None = None
    policies: WorkspacePoliciesV1 | None = None
    faq: tuple[WorkspaceFaqEntryV1, ...] | None = None

    def aggregate_id(self) -> str:
        return str(self.workspace_id)


@register
class WorkspaceCreatedV1(_WorkspaceSnapshot):
    TYPE = "workspace.created"


@register
class WorkspaceUpdatedV1(_WorkspaceSnapshot):
    TYPE = "workspace.updated"


@register
class WorkspaceDeletedV1(Event):
    TYPE = "workspace.deleted"
    workspace_id: UUID
    owner_id: UUID
    handle: str
    name: str
    timezone: str

    def aggregate_id(self) -> str:
        return str(self.workspace_id)


class _ServiceSnapshot(Event):
    service_id: UUID
    workspace_id: UUID
    name: str
    description: str | None = None
    duration_minutes: int
    price: str | None = None  # decimal as a string, never a float
    currency: str | None = None
    is_active: bool
    position: int

    def aggregate_id(self) -> str:
        return str(self.workspace_id)


@register
class WorkspaceServiceCreatedV1(_ServiceSnapshot):
    TYPE = "workspace_service.created"


@register
class WorkspaceServiceUpdatedV1(_ServiceSnapshot):
    TYPE = "workspace_service.updated"


@register
class WorkspaceServiceDeletedV1(Event):
    TYPE = "workspace_service.deleted"
    service_id: UUID
    workspace_id: UUID

    def aggregate_id(self) -> str:
        return str(self.workspace_id)
