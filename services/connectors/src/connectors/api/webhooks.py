"""Provider webhooks. Forwarded by the gateway unchanged (headers and raw body)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from connectors.api.deps import ServicesDep
from connectors.api.schemas import WebhookAck
from connectors.domain.errors import WebhookNotConfigured
from connectors.domain.webhooks import (
    MalformedWebhook,
    read_calendly,
    read_square,
    verify_calendly,
    verify_square,
)
from connectors.usecases.webhooks import record_provider_event

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"])

SQUARE_PATH = "/api/v1/webhooks/square"
MAX_BODY = 1_000_000


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(status_code=413, detail="Webhook body too large")
    return body


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        raise HTTPException(status_code=400, detail="Webhook body is not JSON") from None
    if not isinstance(value, dict):
        raise HTTPException(status_code=400, detail="Webhook body is not a JSON object")
    return value


@router.post("/calendly")
async def calendly_webhook(request: Request, services: ServicesDep) -> WebhookAck:
    key = services.settings.calendly_webhook_signing_key
    if not key:
        raise WebhookNotConfigured("Calendly webhooks are not configured")
    body = await _body(request)
    # The signature is checked before the body is even parsed.
    verify_calendly(
        request.headers.get("calendly-webhook-signature"),
        body,
        key,
        time.time(),
        services.settings.webhook_tolerance_seconds,
    )
    try:
        event = read_calendly(_json(body))
    except MalformedWebhook as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return WebhookAck(status=await record_provider_event(services.uow, event))


@router.post("/square")
async def square_webhook(request: Request, services: ServicesDep) -> WebhookAck:
    key = services.settings.square_webhook_signature_key
    if not key:
        raise WebhookNotConfigured("Square webhooks are not configured")
    body = await _body(request)
    notification_url = services.settings.public_base_url.rstrip("/") + SQUARE_PATH
    verify_square(request.headers.get("x-square-hmacsha256-signature"), notification_url, body, key)
    try:
        event = read_square(_json(body))
    except MalformedWebhook as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return WebhookAck(status=await record_provider_event(services.uow, event))
