"""Events produced by the gateway's identity module."""

from __future__ import annotations

from uuid import UUID

from shared.events.base import Event, register


@register
class UserCreatedV1(Event):
    TYPE = "user.created"
    user_id: UUID
    email: str
    full_name: str | None = None

    def aggregate_id(self) -> str:
        return str(self.user_id)


@register
class UserDeletedV1(Event):
    TYPE = "user.deleted"
    user_id: UUID

    def aggregate_id(self) -> str:
        return str(self.user_id)
