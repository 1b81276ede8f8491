"""The webhook fast path answers as the whole app does: each request here is sent to the gateway
built with it and without it, and the two answers (status, headers, body), access-log lines
and request metrics must be the same."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from prometheus_client import REGISTRY
from starlette.routing import Router

from gateway.main import create_app
from gateway.settings import Settings
from gateway.webhooks import api
from gateway.webhooks.fastpath import WebhookFastPath, _check_callable_directly, targets
from shared.bus import Bus

from .conftest import META_APP_SECRET, PUBLIC_BASE_URL, TWILIO_AUTH_TOKEN, Received

API = "/api/v1/webhooks"
ACCOUNT = uuid.UUID("6f1c1a52-2d4e-4f7b-9a59-3e2f0d6c8b11")
ACCOUNT_SECRET = "per-account-secret-for-fast-path-tests"
MAX_BODY = 4096


@dataclass
class Sent:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    logged: list[tuple[str, int]] = field(default_factory=list)
    # How far the request counter moved, by route label (the router's, or "unmatched").
    counted: dict[str, float] = field(default_factory=dict)
    routed: int = 0  # times the request entered the app's router


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def access_log() -> Iterator[Lines]:
    lines = Lines()
    logger = logging.getLogger("access")
    logger.addHandler(lines)
    try:
        yield lines
    finally:
        logger.removeHandler(lines)


def conversations(request: httpx.Request) -> httpx.Response:
    """The inbound-secret lookup: one known chatgpt account, every other id unknown."""
    if request.url.path.split("/")[5] == str(ACCOUNT):
        return httpx.Response(
            200,
            json={
                "id": str(ACCOUNT),
                "workspace_id": str(uuid.uuid4()),
                "channel": "chatgpt",
                "account_id": "acct-fast",
                "secret": ACCOUNT_SECRET,
            },
        )
    return httpx.Response(404, json={"detail": "Channel account not found"})


@pytest.fixture
async def apps(
    webhook_settings: Settings, webhook_bus: tuple[Bus, Received]
) -> AsyncIterator[dict[str, FastAPI]]:
    settings = webhook_settings.model_copy(update={"max_body_bytes": MAX_BODY})
    built = {
        "whole": create_app(settings, httpx.MockTransport(conversations), webhook_fast_path=False),
        "fast": create_app(settings, httpx.MockTransport(conversations), webhook_fast_path=True),
    }
    for app in built.values():
        app.state.runtime.bus = webhook_bus[0]
    yield built
    for app in built.values():
        await app.state.forwarder.close()


def counts(method: str, route: str, since: dict[str, float] | None = None) -> dict[str, float]:
    """The gateway's request counter by status for one route label (moved since `since`)."""
    found: dict[str, float] = {}
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            labels = sample.labels
            if sample.name == "http_requests_total" and (
                labels.get("service"),
                labels.get("method"),
                labels.get("route"),
            ) == ("gateway", method, route):
                found[labels["status"]] = sample.value
    if since is None:
        return found
    return {
        status: value - since.get(status, 0.0)
        for status, value in found.items()
        if value != since.get(status, 0.0)
    }


async def send(
    app: FastAPI,
    lines: Lines,
    path: str,
    content: Any,
    headers: dict[str, str],
    route: str,
) -> Sent:
    lines.records.clear()
    labels = (route, "unmatched")
    before = {label: counts("POST", label) for label in labels}
    transport = httpx.ASGITransport(app=app)
    routed = 0
    enter = Router.__call__

    async def counted_entry(router: Router, scope: Any, receive: Any, send_: Any) -> None:
        nonlocal routed
        routed += 1
        await enter(router, scope, receive, send_)

    Router.__call__ = counted_entry  # type: ignore[method-assign]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            response = await client.post(path, content=content, headers=headers)
    finally:
        Router.__call__ = enter  # type: ignore[method-assign]
    counted = {
        f"{label} {status}": moved
        for label in labels
        for status, moved in counts("POST", label, before[label]).items()
    }
    return Sent(
        response.status_code,
        list(response.headers.multi_items()),
        response.content,
        [(r.getMessage(), r.__dict__.get("status", 0)) for r in lines.records],
        counted,
        routed,
    )


async def same_answer(
    apps: dict[str, FastAPI],
    lines: Lines,
    path: str,
    content: Any,
    headers: dict[str, str],
    route: str,
    *,
    fast_path: bool = True,
) -> Sent:
    """Both apps' answers, which must match; the fast one's, for the test to look at.
    `fast_path=False`: a path the fast path must leave to the whole app."""
    headers = {"X-Request-ID": uuid.uuid4().hex, **headers}
    answers = {}
    for name, app in apps.items():
        made = content() if callable(content) else content
        answers[name] = await send(app, lines, path, made, headers, route)
    whole, fast = answers["whole"], answers["fast"]
    assert (fast.status, fast.headers, fast.body) == (whole.status, whole.headers, whole.body)
    logged_path = path.split("?")[0]
    assert fast.logged == whole.logged == [(f"POST {logged_path} {whole.status}", whole.status)]
    # Counted once, under the label the router gives it (or "unmatched" when refused first).
    assert fast.counted == whole.counted
    assert sum(whole.counted.values()) == 1
    assert ("x-request-id", headers["X-Request-ID"]) in fast.headers
    # The fast app answered without its router; the whole one went through it whenever its
    # middleware let the request in (so a fast path that never fired would show here).
    if not fast_path:
        assert fast.routed == whole.routed == 1, (fast.routed, whole.routed)
        return fast
    assert fast.routed == 0 and whole.routed <= 1, (fast.routed, whole.routed)
    if whole.status not in (400, 413, 422):
        assert whole.routed == 1
    return fast


def meta_signed(body: bytes, secret: str = META_APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def whatsapp(external_id: str, text: str = "hi") -> bytes:
    message = {
        "from": "5511999",
        "id": external_id,
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": text},
    }
    value = {"metadata": {"phone_number_id": "pn-fast"}, "messages": [message]}
    entry = {"id": "waba", "changes": [{"field": "messages", "value": value}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


WHATSAPP = f"{API}/whatsapp"


def test_the_fast_path_takes_every_post_webhook_route_and_nothing_else() -> None:
    found = targets("/api/v1")
    posted = {
        "/api/v1" + route.path  # type: ignore[attr-defined]
        for route in api.router.routes
        if "POST" in route.methods  # type: ignore[attr-defined]
    }
    assert set(found) == (posted - {f"{API}/inbound/{{channel}}"}) | {
        f"{API}/inbound/chatgpt",
        f"{API}/inbound/phone",
    }


async def test_a_signed_notification_is_accepted_published_logged_and_measured_alike(
    apps: dict[str, FastAPI], access_log: Lines, received: Received
) -> None:
    ids = iter([f"wamid.fast.{uuid.uuid4().hex}", f"wamid.fast.{uuid.uuid4().hex}"])
    bodies: list[bytes] = []

    def body() -> bytes:
        bodies.append(whatsapp(next(ids)))
        return bodies[-1]

    # Bodies differ per app (one message each); the signature is computed per body.
    answers = []
    for name in ("whole", "fast"):
        made = body()
        headers = {"X-Request-ID": f"req-{name}", **meta_signed(made)}
        answers.append(
            await send(apps[name], access_log, WHATSAPP, made, headers, "/api/v1/webhooks/whatsapp")
        )
    whole, fast = answers
    assert (fast.status, fast.body) == (whole.status, whole.body) == (200, b'{"accepted":1}')
    assert [h for h in fast.headers if h[0] != "x-request-id"] == [
        h for h in whole.headers if h[0] != "x-request-id"
    ]
    assert ("x-request-id", "req-fast") in fast.headers
    assert fast.logged == whole.logged == [(f"POST {WHATSAPP} 200", 200)]
    assert fast.counted == whole.counted == {"/api/v1/webhooks/whatsapp 200": 1.0}
    for made in bodies:
        external_id = json.loads(made)["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        [item] = await received.wait_for(external_id)
        assert item.account_id == "pn-fast"
    assert {e.correlation_id for e in received.envelopes} >= {"req-whole", "req-fast"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Type": "application/json"}, 401),
        ({"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00"}, 403),
        ({"Content-Type": "application/json", "X-Hub-Signature-256": "md5=00"}, 403),
    ],
)
async def test_a_missing_or_bad_signature_is_refused_alike(
    apps: dict[str, FastAPI], access_log: Lines, headers: dict[str, str], status: int
) -> None:
    sent = await same_answer(
        apps, access_log, WHATSAPP, whatsapp("wamid.never"), headers, "/api/v1/webhooks/whatsapp"
    )
    assert sent.status == status


async def test_an_oversize_body_is_refused_alike_declared_or_streamed(
    apps: dict[str, FastAPI], access_log: Lines
) -> None:
    big = b'{"object": "' + b"x" * MAX_BODY + b'"}'
    declared = await same_answer(
        apps, access_log, WHATSAPP, big, meta_signed(big), "/api/v1/webhooks/whatsapp"
    )
    assert declared.status == 413
    assert json.loads(declared.body) == {
        "detail": f"Request body is larger than the {MAX_BODY} bytes this API accepts"
    }

    def streamed() -> Any:
        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(big), 1000):
                yield big[start : start + 1000]

        return chunks()

    for content_type in ("application/json", "text/plain"):
        headers = {**meta_signed(big), "Content-Type": content_type}
        sent = await same_answer(
            apps, access_log, WHATSAPP, streamed, headers, "/api/v1/webhooks/whatsapp"
        )
        assert sent.status == 413


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"not json at all", "application/json", 400),
        (b"not json at all", "text/plain", 400),
        (b'{"object": "page", "entry": []}', "application/json", 400),
        (b'{"object": "whatsapp_business_account", "entry": [{"changes": 5}]}', "", 400),
        (b'{"text": "nul \\u0000 inside"}', "application/json", 422),
        (b'{"text": "lone \\udc00 surrogate"}', "application/json; charset=utf-8", 422),
        (b'{"text": "lone \xed\xb0\x80 surrogate, UTF-8 bytes"}', "application/json", 422),
        (b"[" * 70 + b"]" * 70, "application/json", 400),
        (b"[" * 70 + b"]" * 70, "text/plain", 400),
        (b"[" * 60 + b"]" * 60, "application/json", 400),
        (b"[" * 2000 + b"]" * 2000, "application/json", 400),
    ],
)
async def test_a_signed_body_that_is_not_a_notification_is_refused_alike(
    apps: dict[str, FastAPI], access_log: Lines, body: bytes, content_type: str, status: int
) -> None:
    headers = {**meta_signed(body), "Content-Type": content_type}
    sent = await same_answer(apps, access_log, WHATSAPP, body, headers, "/api/v1/webhooks/whatsapp")
    assert sent.status == status


async def test_an_unsigned_body_holding_nul_is_refused_before_its_signature_alike(
    apps: dict[str, FastAPI], access_log: Lines
) -> None:
    for body, content_type in (
        (b'{"a": "\\u0000"}', "application/json"),
        (b"Body=a%00b", "application/x-www-form-urlencoded"),
    ):
        sent = await same_answer(
            apps,
            access_log,
            WHATSAPP,
            body,
            {"Content-Type": content_type},
            "/api/v1/webhooks/whatsapp",
        )
        assert sent.status == 422


async def test_a_control_character_in_the_query_is_refused_alike(
    apps: dict[str, FastAPI], access_log: Lines
) -> None:
    body = whatsapp("wamid.never")
    sent = await same_answer(
        apps, access_log, f"{WHATSAPP}?x=%07", body, meta_signed(body), "/api/v1/webhooks/whatsapp"
    )
    assert sent.status == 400


def integrator(body: bytes, account: str, secret: str = ACCOUNT_SECRET) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "X-Base-Account": account,
        "X-Base-Timestamp": ts,
        "X-Base-Signature": f"sha256={digest}",
        "Content-Type": "application/json",
    }


def inbound_body() -> bytes:
    message = {
        "external_id": f"call-{uuid.uuid4().hex}",
        "visitor_id": "+15551234567",
        "content": "I'd like to book",
        "sent_at": "2026-05-01T10:00:00Z",
    }
    return json.dumps({"messages": [message]}).encode()


@pytest.mark.parametrize(
    ("channel", "account", "secret", "status"),
    [
        ("chatgpt", str(uuid.uuid4()), ACCOUNT_SECRET, 403),  # unknown account
        ("chatgpt", "not-an-id", ACCOUNT_SECRET, 403),
        ("chatgpt", str(ACCOUNT), "a-wrong-secret", 403),
        ("phone", str(ACCOUNT), ACCOUNT_SECRET, 403),  # the account is a chatgpt one
    ],
)
async def test_the_integrator_endpoint_refuses_alike(
    apps: dict[str, FastAPI],
    access_log: Lines,
    channel: str,
    account: str,
    secret: str,
    status: int,
) -> None:
    body = inbound_body()
    sent = await same_answer(
        apps,
        access_log,
        f"{API}/inbound/{channel}",
        body,
        integrator(body, account, secret),
        "/api/v1/webhooks/inbound/{channel}",
    )
    assert sent.status == status
    assert json.loads(sent.body) == {"detail": "Invalid signature"}


async def test_an_unknown_integrator_channel_goes_through_the_whole_app(
    apps: dict[str, FastAPI], access_log: Lines
) -> None:
    body = inbound_body()
    sent = await same_answer(
        apps,
        access_log,
        f"{API}/inbound/telegram",
        body,
        integrator(body, str(ACCOUNT)),
        "/api/v1/webhooks/inbound/{channel}",
        fast_path=False,
    )
    assert sent.status == 422


async def test_a_signed_integrator_post_is_accepted_alike(
    apps: dict[str, FastAPI], access_log: Lines, received: Received
) -> None:
    statuses = []
    for app in apps.values():
        body = inbound_body()
        access_log.records.clear()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            response = await client.post(
                f"{API}/inbound/chatgpt", content=body, headers=integrator(body, str(ACCOUNT))
            )
        statuses.append((response.status_code, response.json()))
        [item] = await received.wait_for(json.loads(body)["messages"][0]["external_id"])
        assert item.account_id == "acct-fast"
    assert statuses == [(200, {"accepted": 1})] * 2


def twilio_signed(path: str, params: dict[str, str]) -> dict[str, str]:
    data = PUBLIC_BASE_URL + path + "".join(k + v for k, v in sorted(params.items()))
    digest = hmac.new(TWILIO_AUTH_TOKEN.encode(), data.encode(), hashlib.sha1).digest()
    return {
        "X-Twilio-Signature": base64.b64encode(digest).decode(),
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def test_twilio_is_answered_alike(apps: dict[str, FastAPI], access_log: Lines) -> None:
    path = f"{API}/twilio/sms"
    params = {"MessageSid": "SMfast", "From": "+15550001", "To": "+15550002", "Body": "hi"}
    forged = {**twilio_signed(path, params), "X-Twilio-Signature": "Zm9yZ2Vk"}
    sent = await same_answer(
        apps, access_log, path, urlencode(params), forged, "/api/v1/webhooks/twilio/sms"
    )
    assert sent.status == 403
    unsigned_status = {k: v for k, v in params.items() if k != "From"}
    sent = await same_answer(
        apps,
        access_log,
        f"{API}/twilio/status",
        urlencode(unsigned_status),
        {"Content-Type": "application/x-www-form-urlencoded"},
        "/api/v1/webhooks/twilio/status",
    )
    assert sent.status == 401


async def test_a_webhook_that_fails_unexpectedly_is_a_500_alike(
    apps: dict[str, FastAPI], access_log: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(api.meta, "signature_verdict", broken)
    body = whatsapp("wamid.never")
    for app in apps.values():
        access_log.records.clear()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            response = await client.post(WHATSAPP, content=body, headers=meta_signed(body))
        assert (response.status_code, response.text) == (500, "Internal Server Error")
        assert [r.getMessage() for r in access_log.records] == [
            f"unhandled error on POST {WHATSAPP}",
            f"POST {WHATSAPP} 500",
        ]


def test_tracing_on_keeps_webhooks_on_the_whole_app(
    webhook_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stack(app: FastAPI) -> list[Any]:
        return [m.cls for m in app.user_middleware]

    assert WebhookFastPath in stack(create_app(webhook_settings))
    tracing = SimpleNamespace(provider=lambda: object(), instrument_client=lambda client: None)
    monkeypatch.setattr("gateway.main.telemetry", tracing)
    assert WebhookFastPath not in stack(create_app(webhook_settings))


def test_a_webhook_endpoint_that_asks_fastapi_for_more_is_refused_at_start_up() -> None:
    """The fast path calls endpoints with the request alone: one with a query parameter
    would be called wrongly, so building the fast path refuses it."""
    router = APIRouter()

    @router.post("/webhooks/plain")
    async def plain(request: Request) -> None: ...

    @router.post("/webhooks/asking")
    async def asking(request: Request, page: int = 1) -> None: ...

    plain_route, asking_route = (r for r in router.routes if isinstance(r, APIRoute))
    _check_callable_directly(plain_route)
    with pytest.raises(RuntimeError, match="asks for \\['page'\\]"):
        _check_callable_directly(asking_route)
