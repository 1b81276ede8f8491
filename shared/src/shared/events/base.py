"""The envelope every message on the bus travels in, and the payload base class.

Rules: payloads are frozen; within a version only additive, optional changes; a breaking change
is a new class (`...V2`) with its own routing key. `tests/test_contracts.py` snapshots the JSON
schema of every payload so drift fails a test.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from shared.tracing import traceparent_var


class Event(BaseModel):
    """A payload. Subclasses set TYPE (`<aggregate>.<past tense>`) and VERSION."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def aggregate_id(self) -> str:
        """The aggregate this event belongs to; the relay keeps order per aggregate."""
        raise NotImplementedError


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: UUID = Field(default_factory=uuid4)
    type: str
    version: int
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    producer: str
    correlation_id: str | None = None
    aggregate_id: str
    payload: dict[str, Any]
    # W3C trace context carried from the request that caused the event.
    traceparent: str | None = None

    @classmethod
    def wrap(
        cls,
        event: Event,
        producer: str,
        correlation_id: str | None = None,
        traceparent: str | None = None,
    ) -> Envelope:
        return cls(
            type=event.TYPE,
            version=event.VERSION,
            producer=producer,
            correlation_id=correlation_id,
            aggregate_id=event.aggregate_id(),
            payload=event.model_dump(mode="json"),
            # The trace of the request or message that caused this event, when there is one.
            traceparent=traceparent or traceparent_var.get(),
        )

    @property
    def routing_key(self) -> str:
        return f"{self.type}.v{self.version}"

    def parsed(self) -> Event:
        return event_class(self.type, self.version).model_validate(self.payload)


class UnknownEvent(LookupError):
    pass


_REGISTRY: dict[tuple[str, int], type[Event]] = {}
E = TypeVar("E", bound=type[Event])


def register(cls: E) -> E:
    key = (cls.TYPE, cls.VERSION)
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise ValueError(f"event {key} registered twice")
    _REGISTRY[key] = cls
    return cls


def event_class(type_: str, version: int) -> type[Event]:
    try:
        return _REGISTRY[(type_, version)]
    except KeyError as exc:
        raise UnknownEvent(f"{type_} v{version}") from exc


def registered_events() -> list[type[Event]]:
    return sorted(_REGISTRY.values(), key=lambda c: (c.TYPE, c.VERSION))


def routing_key(cls: type[Event]) -> str:
    return f"{cls.TYPE}.v{cls.VERSION}"


def parse_envelope(body: bytes | str | dict[str, Any]) -> Envelope:
    if isinstance(body, dict):
        return Envelope.model_validate(body)
    return Envelope.model_validate_json(body)
