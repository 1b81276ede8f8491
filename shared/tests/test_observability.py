"""Metrics and logs the library produces by itself: backlog gauges, consumer log lines."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client import REGISTRY

from shared.events import Envelope, UserCreatedV1
from shared.logging import JsonFormatter
from shared.relay import OutboxRelay
from shared.runtime import Runtime
from shared.testing import delete_bus_names, wait_until
from shared.tokens import Principal, sign_internal_token
from shared.tracing import new_traceparent, trace_id
from shared.web import install_common

from .conftest import outbox
from .test_relay import emit

pytestmark = pytest.mark.usefixtures("clean")


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def holds(check: Callable[[], bool]) -> None:
    async def ready() -> bool:
        return check()

    await wait_until(ready)


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Everything logged while the test runs, formatted as the services format it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("relaytest"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_relay_reports_backlog_and_oldest_age_while_it_cannot_publish(
    engine, bus_factory
) -> None:
    service = f"backlog-{uuid.uuid4().hex[:6]}"
    bus = await bus_factory(service, start=False)  # not connected: every publish fails
    relay = OutboxRelay(
        engine, outbox, bus, poll_seconds=0.1, backoff_seconds=0.1, metrics_seconds=0.1
    )
    await emit(
        engine, [UserCreatedV1(user_id=uuid.uuid4(), email=f"{i}@example.com") for i in range(3)]
    )
    relay.start()
    try:
        await holds(lambda: sample("outbox_backlog", service=service) == 3)
        await holds(lambda: (sample("outbox_oldest_age_seconds", service=service) or 0) > 0.2)
        assert (sample("outbox_publish_failures_total", service=service) or 0) > 0
    finally:
        await relay.stop()


async def test_relay_gauges_drop_to_zero_once_everything_is_published(engine, bus_factory) -> None:
    service = f"drained-{uuid.uuid4().hex[:6]}"
    bus = await bus_factory(service)
    relay = OutboxRelay(engine, outbox, bus, poll_seconds=0.1, metrics_seconds=0.1)
    await emit(engine, [UserCreatedV1(user_id=uuid.uuid4(), email="a@example.com")])
    relay.start()
    try:
        await holds(
            lambda: (
                sample("outbox_events_published_total", service=service, type="user.created") == 1
            )
        )
        await holds(lambda: sample("outbox_backlog", service=service) == 0)
        assert sample("outbox_oldest_age_seconds", service=service) == 0
    finally:
        await relay.stop()


async def test_consumed_message_is_logged_with_its_event_and_trace_and_counted(
    settings, json_lines
) -> None:
    service = f"obs{uuid.uuid4().hex[:6]}"
    runtime = Runtime(settings, service, outbox)
    handled: list[Envelope] = []

    async def on_user_created(envelope: Envelope) -> None:
        handled.append(envelope)

    runtime.bus.subscribe(UserCreatedV1, on_user_created)
    await runtime.start()
    try:
        # Series exist from the start, failures included, before anything happened.
        for outcome in ("ok", "failed", "dead_lettered"):
            assert (
                sample(
                    "events_consumed_total", service=service, type="user.created", outcome=outcome
                )
                == 0
            )
        traceparent = new_traceparent()
        envelope = Envelope.wrap(
            UserCreatedV1(user_id=uuid.uuid4(), email="b@example.com"),
            producer="test",
            traceparent=traceparent,
        )
        await runtime.bus.publish(envelope)
        await holds(lambda: len(handled) == 1)
        await holds(
            lambda: (
                sample("events_consumed_total", service=service, type="user.created", outcome="ok")
                == 1
            )
        )
    finally:
        await runtime.stop()
        await delete_bus_names(
            settings.rabbitmq_url, settings.events_exchange, runtime.bus.queue_names
        )

    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    consumed = [line for line in lines if line["logger"] == "consumer"]
    assert len(consumed) == 1, lines
    [line] = consumed
    assert line["event_id"] == str(envelope.event_id)
    assert line["trace_id"] == trace_id(traceparent)
    assert line["event_type"] == "user.created"
    assert line["outcome"] == "ok"
    assert "request_id" not in line
    stopped = [line for line in lines if line["msg"] == f"{service} stopped"]
    assert stopped, "stop is logged"


async def test_latency_is_labelled_by_route_template_with_its_router_prefix() -> None:
    service = f"routes{uuid.uuid4().hex[:6]}"
    items = APIRouter()

    @items.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    app = FastAPI()
    app.include_router(items, prefix="/api/v1")
    install_common(app, service, None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        for item_id in (1, 2, 3):
            assert (await client.get(f"/api/v1/items/{item_id}")).status_code == 200
        assert (await client.get("/api/v1/nowhere/4")).status_code == 404

    def count(route: str, status: str) -> float | None:
        return sample(
            "http_request_duration_seconds_count",
            service=service,
            method="GET",
            route=route,
            status=status,
        )

    assert count("/api/v1/items/{item_id}", "200") == 3
    assert count("unmatched", "404") == 1


async def test_access_line_carries_the_request_id_and_the_verified_user(json_lines) -> None:
    service = f"access{uuid.uuid4().hex[:6]}"
    secret = "observability-test-secret-long-enough"
    router = APIRouter()

    @router.post("/things/", status_code=201)
    async def create_thing() -> dict[str, str]:
        return {"ok": "yes"}

    app = FastAPI()
    app.include_router(router, prefix="/api/v1")
    install_common(app, service, secret)
    user_id = uuid.uuid4()
    token = sign_internal_token(secret, service, Principal(user_id=user_id, is_superuser=False))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        response = await client.post(
            "/api/v1/things/",
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-123"},
        )
    assert response.status_code == 201
    assert response.headers["x-request-id"] == "req-123"
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    [line] = [line for line in lines if line["logger"] == "access"]
    assert line["request_id"] == "req-123"
    assert line["user_id"] == str(user_id)
    assert line["status"] == 201
    assert line["trace_id"]


async def test_an_unhandled_error_is_a_500_that_carries_the_request_id(json_lines) -> None:
    """The one answer a caller has to quote when something broke names the request: the
    500 carries `x-request-id` like every other answer, and the log lines carry it too."""
    service = f"boom{uuid.uuid4().hex[:6]}"
    router = APIRouter()

    @router.get("/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    app = FastAPI()
    app.include_router(router, prefix="/api/v1")
    install_common(app, service, None)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        response = await client.get("/api/v1/broken", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert response.headers["x-request-id"] == "req-500"
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert {line["request_id"] for line in lines if line["level"] == "error"} == {"req-500"}
    [access] = [line for line in lines if line["logger"] == "access" and "status" in line]
    assert access["status"] == 500 and access["request_id"] == "req-500"
