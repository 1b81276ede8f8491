"""What the use cases accept: already validated by whoever parsed the request or message.

Changes are TypedDicts so "not given" (absent key) and "set to null" (None) stay distinct.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypedDict

from workspaces.domain.settings import Tone


class FaqItem(TypedDict):
    question: str
    answer: str
    language: str | None


class FactChanges(TypedDict, total=False):
    """Business facts, already checked (see domain/facts.py). None clears a fact; `policies`
    names only the policies that change (None for all three cleared)."""

    address: str | None
    map_url: str | None
    phone: str | None
    email: str | None
    payment_methods: list[str] | None
    policies: dict[str, str | None] | None
    faq: list[FaqItem] | None


@dataclass(frozen=True, slots=True)
class NewWorkspace:
    handle: str
    name: str
    tone: Tone
    timezone: str
    facts: FactChanges = field(default_factory=lambda: FactChanges())


class WorkspaceChanges(FactChanges, total=False):
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
