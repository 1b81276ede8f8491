"""Domain and provider errors turned into clear answers; never a bare 500."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from connectors.domain import errors as e
from shared.crypto import UnreadableSecret
from shared.web import problem

log = logging.getLogger(__name__)

STATUS: list[tuple[type[Exception], int]] = [
    (e.ConnectorNotFound, 404),
    (e.NoActiveConnector, 404),
    (e.BookingNotFound, 404),
    (e.BookingNotMarkable, 422),
    (e.BookingNotLive, 409),
    (e.SlotTaken, 409),
    (e.SlotNotBookable, 422),
    (e.WorkspaceMissing, 409),
    (e.ConcurrentChange, 409),
    (e.InvalidConnectorInput, 422),
    (e.InvalidSignature, 401),
    (e.WebhookNotConfigured, 503),
]

PROVIDER_STATUS: list[tuple[type[e.ProviderError], int, str]] = [
    (e.ProviderAuthFailed, 424, "{p} refused the connector's credentials: {r}"),
    (e.ProviderRejected, 422, "{p} rejected the request: {r}"),
    (e.ProviderNotFound, 404, "{p} does not know this resource: {r}"),
    (e.ProviderRateLimited, 503, "{p} is rate limiting us; try again later: {r}"),
    (e.ProviderTimeout, 504, "{p} did not answer in time: {r}"),
    (e.ProviderUnsupported, 501, "{p} does not support this: {r}"),
    (e.ProviderUnavailable, 502, "{p} is unavailable: {r}"),
]

PROVIDER_NAMES = {
    "calendly": "Calendly",
    "square": "Square",
    "agendapro": "AgendaPro",
    "builtin": "The built-in calendar",
}

Handler = Callable[[Request, Any], Awaitable[JSONResponse]]


def _domain(status: int) -> Handler:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return problem(status, str(exc))

    return handler


async def provider_error(_: Request, exc: e.ProviderError) -> JSONResponse:
    for exc_type, status, template in PROVIDER_STATUS:
        if isinstance(exc, exc_type):
            detail = template.format(p=PROVIDER_NAMES.get(exc.provider, exc.provider), r=exc.reason)
            headers = None
            if isinstance(exc, e.ProviderRateLimited) and exc.retry_after is not None:
                headers = {"Retry-After": str(int(exc.retry_after + 0.999))}
            return problem(status, detail, headers)
    return problem(502, f"{exc.provider}: {exc.reason}")


async def unreadable_secret(_: Request, exc: UnreadableSecret) -> JSONResponse:
    log.error("connector config cannot be decrypted with the configured keys")
    return problem(
        503,
        "The connector's credentials cannot be read with the current encryption keys; "
        "the operator must restore the key or you must enter the credentials again",
    )


async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI echoes the input by default; it may hold a token, so only say where and why.
    errors = [
        {"type": err.get("type"), "loc": err.get("loc"), "msg": err.get("msg")}
        for err in exc.errors()
    ]
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def handlers() -> dict[Any, Handler]:
    mapping: dict[Any, Handler] = {exc: _domain(status) for exc, status in STATUS}
    mapping[e.ProviderError] = provider_error
    mapping[UnreadableSecret] = unreadable_secret
    mapping[RequestValidationError] = validation_error
    return mapping
