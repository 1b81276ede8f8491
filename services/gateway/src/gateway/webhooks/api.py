"""Channel webhooks verified by the gateway itself (Meta, Twilio, signed integrator calls).

Each request is checked in constant time before its body is interpreted (a bad or missing
signature answers 401/403 and publishes nothing; a malformed signed body answers 400). Each
item is then published to RabbitMQ as `inbound_message.accepted`, persistent, mandatory and
publisher-confirmed, and only then does the provider get its 200. When the broker cannot take
it (down, or no queue bound) the answer is 503 so that the provider retries; the consumer
stores each provider message once, so those retries are harmless.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from gateway.proxy.inputs import TOO_DEEP, parse_json, too_deep
from gateway.settings import Settings
from gateway.webhooks import accounts, generic, meta, twilio
from gateway.webhooks.common import MalformedPayload, Verdict
from shared.events import Envelope, InboundMessageAcceptedV1
from shared.logging import request_id_var

log = logging.getLogger(__name__)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

PRODUCER = "gateway"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > _settings(request).max_body_bytes:
        raise HTTPException(413, "Body too large")
    return body


def _refuse(verdict: Verdict) -> None:
    if verdict is Verdict.MISSING:
        raise HTTPException(401, "Missing signature")
    if verdict is Verdict.INVALID:
        raise HTTPException(403, "Invalid signature")


async def _hand_over(request: Request, items: list[InboundMessageAcceptedV1]) -> None:
    """Publish every item with a confirm; any failure becomes a 503 the provider retries."""
    bus = request.app.state.runtime.bus
    correlation_id = request_id_var.get()
    try:
        for item in items:
            envelope = Envelope.wrap(item, producer=PRODUCER, correlation_id=correlation_id)
            await bus.publish(envelope, mandatory=True)
    except Exception as exc:
        log.exception("inbound message not handed over", extra={"channel": items[0].channel})
        raise HTTPException(
            503, "Could not accept the message now, retry later", headers={"Retry-After": "5"}
        ) from exc


def _json(body: bytes) -> Any:
    try:
        payload = parse_json(body)
    except ValueError as exc:
        detail = TOO_DEEP if str(exc) == TOO_DEEP else "Body is not valid JSON"
        raise HTTPException(400, detail) from exc
    if too_deep(body, payload):  # text checks are the consumer's
        raise HTTPException(400, TOO_DEEP)
    return payload


def _meta_routes(channel: str, parse: Callable[[Any], list[InboundMessageAcceptedV1]]) -> None:
    @router.get(
        f"/{channel}",
        response_class=PlainTextResponse,
        name=f"verify_{channel}_webhook",
        summary=f"Meta's {channel} subscription handshake",
    )
    async def verify(
        request: Request,
        mode: Annotated[str | None, Query(alias="hub.mode")] = None,
        token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
        challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
    ) -> PlainTextResponse:
        """Echo `hub.challenge` when `hub.verify_token` is our META_VERIFY_TOKEN."""
        params = {
            k: v
            for k, v in {
                "hub.mode": mode,
                "hub.verify_token": token,
                "hub.challenge": challenge,
            }.items()
            if v is not None
        }
        answer = meta.verification_challenge(params, _settings(request).meta_verify_token)
        if answer is None:
            raise HTTPException(403, "Verification failed")
        return PlainTextResponse(answer)

    @router.post(
        f"/{channel}",
        name=f"receive_{channel}_webhook",
        summary=f"Meta's {channel} notifications (X-Hub-Signature-256)",
    )
    async def receive(request: Request) -> JSONResponse:
        body = await _body(request)
        _refuse(
            meta.signature_verdict(
                _settings(request).meta_app_secret,
                body,
                request.headers.get(meta.SIGNATURE_HEADER),
            )
        )
        try:
            items = parse(_json(body))
        except MalformedPayload as exc:
            raise HTTPException(400, str(exc)) from exc
        if items:
            await _hand_over(request, items)
        return JSONResponse({"accepted": len(items)})


_meta_routes("whatsapp", meta.parse_whatsapp)
_meta_routes("messenger", lambda payload: meta.parse_messaging(payload, "messenger"))
_meta_routes("instagram", lambda payload: meta.parse_messaging(payload, "instagram"))


async def _signed_twilio_form(request: Request) -> list[tuple[str, str]]:
    """The form parameters of a request Twilio signed; 401/403 otherwise.

    The signed URL is rebuilt from PUBLIC_BASE_URL (the address Twilio calls), since behind
    proxies the URL this process sees is not the one Twilio signed.
    """
    settings = _settings(request)
    body = await _body(request)
    try:
        params = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        params = None
    url = settings.public_base_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    header = request.headers.get(twilio.SIGNATURE_HEADER)
    if params is None:
        # Not even a form: it cannot carry a valid signature.
        _refuse(Verdict.MISSING if not header else Verdict.INVALID)
        raise HTTPException(400, "Body is not form-encoded")
    _refuse(twilio.signature_verdict(settings.twilio_auth_token, url, params, header))
    return params


@router.post(
    "/twilio/sms",
    response_class=Response,
    responses={200: {"content": {"text/xml": {}}, "description": "Empty TwiML"}},
)
async def receive_twilio_sms(request: Request) -> Response:
    """Twilio's inbound SMS (form-encoded, `X-Twilio-Signature`); answers empty TwiML."""
    params = await _signed_twilio_form(request)
    try:
        item = twilio.parse_sms(params, datetime.now(UTC))
    except MalformedPayload as exc:
        raise HTTPException(400, str(exc)) from exc
    await _hand_over(request, [item])
    return Response(twilio.EMPTY_TWIML, media_type="text/xml")


@router.post("/twilio/status", status_code=204, response_class=Response)
async def receive_twilio_status(request: Request) -> Response:
    """Twilio's StatusCallback for the replies we send (each send names this URL):
    `MessageSid`, `MessageStatus`, `ErrorCode`; signed like inbound SMS. 204 once on the bus.
    """
    params = await _signed_twilio_form(request)
    try:
        item = twilio.parse_status(params, datetime.now(UTC))
    except MalformedPayload as exc:
        raise HTTPException(400, str(exc)) from exc
    await _hand_over(request, [item])
    return Response(status_code=204)


@router.post("/inbound/{channel}")
async def receive_signed_inbound(
    request: Request,
    channel: Annotated[generic.IntegratorChannel, Path(description="chatgpt or phone")],
) -> JSONResponse:
    """Signed inbound messages from integrators (ChatGPT apps, phone/voice platforms).

    Headers: `X-Base-Account: <channel account id>` (the `id` of your chatgpt or phone
    channel account), `X-Base-Timestamp: <unix seconds>` and
    `X-Base-Signature: sha256=<hex HMAC-SHA256(<that account's inbound_signing_secret>,
    "<timestamp>.<raw body>")>`; requests more than 5 minutes off are refused (replay
    protection). A bad or missing signature, or an unknown account, stores nothing (401/403).

    Body (JSON), routed to the signing account's workspace:
    `{"messages": [{"external_id": "call-123-1", "visitor_id": "+15551234567",
    "visitor_name": "Ana", "content": "I'd like to book", "sent_at":
    "2026-05-01T10:00:00Z"}]}` (1 to 100 messages; `external_id` unique per channel, so
    retries are stored once). Answers `{"accepted": n}` once every message is on the bus.
    """
    body = await _body(request)
    signer = await _signing_account(request, channel, body)
    try:
        items = generic.parse_inbound(channel, body, signer)
    except MalformedPayload as exc:
        raise HTTPException(400, str(exc)) from exc
    except generic.WrongAccount as exc:
        raise HTTPException(403, str(exc)) from exc
    await _hand_over(request, items)
    return JSONResponse({"accepted": len(items)})


async def _signing_account(
    request: Request, channel: str, body: bytes
) -> accounts.AccountSecret | None:
    """The channel account whose secret signed this body (401/403 otherwise); None when the
    deprecated platform-wide INBOUND_SIGNING_SECRET signed it."""
    timestamp = request.headers.get(generic.TIMESTAMP_HEADER)
    signature = request.headers.get(generic.SIGNATURE_HEADER)
    named = request.headers.get(generic.ACCOUNT_HEADER)
    if named is None:
        legacy = _settings(request).inbound_signing_secret
        if not legacy:
            raise HTTPException(
                401, f"Missing {generic.ACCOUNT_HEADER}: sign with your channel account's secret"
            )
        _refuse(generic.signature_verdict(legacy, body, timestamp, signature))
        log.warning("inbound post signed with the deprecated INBOUND_SIGNING_SECRET")
        return None
    if not signature or not timestamp:
        _refuse(Verdict.MISSING)
    try:
        account_id = uuid.UUID(named)
    except ValueError:
        account_id = None
    if account_id is not None:
        try:
            signer = await _signer(
                request.app.state.inbound_secrets, account_id, channel, body, timestamp, signature
            )
        except accounts.LookupUnavailable as exc:
            raise HTTPException(
                503, "Could not check the signature now, retry later", headers={"Retry-After": "5"}
            ) from exc
        if signer is not None:
            return signer
    # An unknown account answers like a bad signature: ids cannot be probed.
    _refuse(Verdict.INVALID)
    raise AssertionError("unreachable")


async def _signer(
    store: accounts.InboundSecrets,
    account_id: uuid.UUID,
    channel: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
) -> accounts.AccountSecret | None:
    def signed_by(account: accounts.AccountSecret | None) -> bool:
        return (
            account is not None
            and account.channel == channel
            and generic.signature_verdict(account.secret, body, timestamp, signature) is Verdict.OK
        )

    kept = store.kept(account_id)
    if signed_by(kept):
        return kept
    fresh = await store.fetch(account_id)  # none kept, or it may have just been rotated
    return fresh if signed_by(fresh) else None
