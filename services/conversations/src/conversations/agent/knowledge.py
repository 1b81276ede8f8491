"""What a business tells its visitors, as the agent reads it: one source for both brains."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FaqEntry:
    question: str
    answer: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Policies:
    cancellation: str | None = None
    lateness: str | None = None
    deposit: str | None = None


@dataclass(frozen=True, slots=True)
class BusinessFacts:
    address: str | None = None
    map_url: str | None = None
    phone: str | None = None
    email: str | None = None
    payment_methods: tuple[str, ...] = ()
    policies: Policies = Policies()
    faq: tuple[FaqEntry, ...] = ()
