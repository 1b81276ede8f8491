"""What the use cases accept: already validated by whoever parsed the request or message.

Changes are TypedDicts so "not given" (absent key) and "set to null" (None) stay distinct.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import TypedDict

from workspaces.domain.settings import Tone


@dataclass(frozen=True, slots=True)
class NewWorkspace:
    handle: str
    name: str
    tone: Tone
    timezone: str


class WorkspaceChanges(TypedDict, total=False):
    handle: str
    name: str
    tone: Tone
    timezone: str


@dataclass(frozen=True, slots=True)
class NewService:
    name: str
    duration_minutes: int
    description: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    is_active: bool = True


class ServiceChanges(TypedDict, total=False):
    name: str
    description: str | None
    duration_minutes: int
    price: Decimal | None
    currency: str | None
    is_active: bool
