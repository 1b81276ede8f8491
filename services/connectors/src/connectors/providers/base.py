"""The one interface every scheduling provider implements, and the HTTP plumbing they share.

Retries: 429 and 5xx (and connection failures) are retried with exponential backoff,
honouring `Retry-After`. A request that is not safe to repeat (a POST without an idempotency
key the provider honours) is retried only on 429, when the provider did not process it.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import httpx

from connectors.domain.errors import (
    ProviderAuthFailed,
    ProviderError,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
)
from connectors.domain.scheduling import AccountInfo, Booking, BookingRequest, EventType, Slot

log = logging.getLogger(__name__)


class SchedulingProvider(Protocol):
    name: str
    # True when the provider's bookings are the connectors schema's own rows (the built-in
    # calendar): it writes them and their events itself, so callers mirror nothing.
    keeps_bookings: bool

    async def check(self) -> AccountInfo: ...

    async def event_types(self) -> list[EventType]: ...

    async def availability(
        self, event_type: str, start: date, end: date, timezone: str
    ) -> list[Slot]: ...

    async def create_booking(self, request: BookingRequest) -> Booking: ...

    async def cancel_booking(self, booking_id: str, reason: str | None) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    timeout_seconds: float
    max_retries: int
    backoff_seconds: float
    max_retry_after_seconds: float


def retry_after_seconds(response: httpx.Response) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# Turns a provider's error body into a readable reason.
ReasonFn = Callable[[httpx.Response], str]


class ProviderHttp:
    """An httpx client bound to one provider's base URL (from settings) and credentials."""

    def __init__(
        self,
        provider: str,
        client: httpx.AsyncClient,
        base_url: str,
        headers: dict[str, str],
        policy: RetryPolicy,
        reason: ReasonFn,
    ) -> None:
        self.provider = provider
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        self.policy = policy
        self.reason = reason

    def url(self, path: str) -> str:
        # Only paths are joined to the operator's base URL; absolute URLs are refused so
        # that no value coming from a user or a provider can pick the host we call.
        if "://" in path or path.startswith("//"):
            raise ValueError("provider paths must be relative")
        return f"{self.base_url}/{path.lstrip('/')}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        safe_to_retry: bool | None = None,
    ) -> httpx.Response:
        if safe_to_retry is None:
            safe_to_retry = method.upper() in {"GET", "HEAD", "PUT", "DELETE"}
        url = self.url(path)
        attempt = 0
        while True:
            try:
                response = await self.client.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers=self.headers,
                    timeout=self.policy.timeout_seconds,
                )
            except httpx.TimeoutException as exc:
                if safe_to_retry and attempt < self.policy.max_retries:
                    attempt += 1
                    await self._backoff(attempt, None)
                    continue
                raise ProviderTimeout(
                    self.provider, f"no answer within {self.policy.timeout_seconds:g}s"
                ) from exc
            except httpx.TransportError as exc:
                if safe_to_retry and attempt < self.policy.max_retries:
                    attempt += 1
                    await self._backoff(attempt, None)
                    continue
                raise ProviderUnavailable(self.provider, "provider unreachable") from exc

            status = response.status_code
            if status < 400:
                return response
            retryable = status == 429 or (status >= 500 and safe_to_retry)
            if retryable and attempt < self.policy.max_retries:
                wait = retry_after_seconds(response)
                if wait is not None and wait > self.policy.max_retry_after_seconds:
                    raise self._error(response)
                attempt += 1
                log.info(
                    "provider answered %s, retrying",
                    status,
                    extra={"provider": self.provider, "attempt": attempt, "retry_after": wait},
                )
                await self._backoff(attempt, wait)
                continue
            raise self._error(response)

    async def _backoff(self, attempt: int, retry_after: float | None) -> None:
        if retry_after is not None:
            await asyncio.sleep(retry_after)
            return
        base = self.policy.backoff_seconds * 2 ** (attempt - 1)
        await asyncio.sleep(base + random.uniform(0, base / 2))

    def _error(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        try:
            reason = self.reason(response)
        except Exception:
            reason = ""
        reason = (reason or f"HTTP {status}")[:500]
        if status in (401, 403):
            return ProviderAuthFailed(self.provider, reason)
        if status == 404:
            return ProviderNotFound(self.provider, reason)
        if status == 429:
            return ProviderRateLimited(self.provider, reason, retry_after_seconds(response))
        if 400 <= status < 500:
            return ProviderRejected(self.provider, reason)
        return ProviderUnavailable(self.provider, f"provider error ({status}): {reason}")


def json_body(response: httpx.Response, provider: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderUnavailable(provider, "provider answered with malformed JSON") from exc


def parse_dt(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


def safe_id(provider: str, value: str) -> str:
    """An id that goes into a URL path: letters, digits, `-` and `_` only."""
    if not _SAFE_ID.match(value):
        raise ProviderRejected(provider, f"malformed id {value[:60]!r}")
    return value
