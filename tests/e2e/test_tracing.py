"""One signed WhatsApp webhook is one trace, exported over OTLP/HTTP by every service it passes:
the gateway request, its publish, the conversations consume, the message insert, the outbox
hop on to `message.received`, the agent's turn (its consumer) and the send of its reply (the
delivery consumer of `message.reply_requested`).

The four services run as processes with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a small
collector in this test (127.0.0.1), which decodes the protobuf the exporter sends.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from shared.testing import served_client, wait_until

from .conftest import System, create_workspace, fakes, private_system, signup
from .test_observability import log_lines, whatsapp


@dataclass
class Collected:
    service: str
    span: Span

    @property
    def trace_id(self) -> str:
        return self.span.trace_id.hex()


@dataclass
class Collector:
    url: str = ""
    spans: list[Collected] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def trace(self, trace_id: str) -> list[Collected]:
        with self.lock:
            return [c for c in self.spans if c.trace_id == trace_id]

    def named(self, service: str, name: str) -> list[Collected]:
        with self.lock:
            return [c for c in self.spans if c.service == service and c.span.name == name]


def handler_for(collector: Collector) -> type[BaseHTTPRequestHandler]:
    class Receive(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = ExportTraceServiceRequest()
            request.ParseFromString(self.rfile.read(int(self.headers["content-length"])))
            with collector.lock:
                for resource_spans in request.resource_spans:
                    service = next(
                        a.value.string_value
                        for a in resource_spans.resource.attributes
                        if a.key == "service.name"
                    )
                    for scope_spans in resource_spans.scope_spans:
                        collector.spans += [Collected(service, s) for s in scope_spans.spans]
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Receive


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    collector = Collector()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(collector))
    collector.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield collector
    server.shutdown()


@pytest.fixture(scope="module")
def traced(collector: Collector, providers: Any) -> Iterator[System]:
    with pytest.MonkeyPatch.context() as env:
        # Read by the services' settings (and the SDK's batch delay) when they start.
        env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        env.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
        # Channel accounts are verified against the loopback Graph API.
        with private_system("traced", {"GRAPH_API_BASE_URL": providers.graph.url}) as system:
            yield system


async def test_a_signed_whatsapp_webhook_is_one_trace_from_the_gateway_to_the_stored_message(
    traced: System, collector: Collector
) -> None:
    exchange = traced.env["EVENTS_EXCHANGE"]
    async with served_client(traced.gateway) as api:
        owner = await signup(api, "traced")
        await create_workspace(api, owner)
        phone_number_id = f"pn-trace-{uuid.uuid4().hex[:10]}"

        async def account_connected() -> bool:  # once workspace.created reached conversations
            response = await api.post(
                "/api/v1/channel-accounts/",
                headers=owner["headers"],
                json={
                    "channel": "whatsapp",
                    "account_id": phone_number_id,
                    "credentials": {"access_token": fakes.WHATSAPP_TOKEN},
                },
            )
            return response.status_code == 201

        await wait_until(account_connected, timeout=20)
        body, signed = whatsapp(phone_number_id, f"wamid.trace-{uuid.uuid4().hex}", "Hi there")
        response = await api.post("/api/v1/webhooks/whatsapp", content=body, headers=signed)
        assert response.status_code == 200, response.text

    async def webhook_span() -> Collected | None:
        found = collector.named("gateway", "POST /api/v1/webhooks/whatsapp")
        return found[0] if found else None

    root = await wait_until(webhook_span, timeout=20)
    assert not root.span.parent_span_id, "the webhook starts the trace"
    expected = {
        ("gateway", f"{exchange}.inbound_message.accepted.v1 publish"),
        ("conversations", f"{exchange}.inbound_message.accepted.v1 process"),
        ("conversations", "INSERT conversations.messages"),
        # The outbox hop: conversations' relay publishes message.received in the same trace.
        ("conversations", f"{exchange}.message.received.v1 publish"),
        # The agent's turn and the send of its reply: consumers of their own, traced as such.
        ("conversations", f"{exchange}.message.received.v1 process"),
        ("conversations", f"{exchange}.message.reply_requested.v1 process"),
    }

    def complete() -> tuple[set[tuple[str, str]], bool]:
        spans = collector.trace(root.trace_id)
        ids = {c.span.span_id for c in spans}
        # Every span links up to the webhook: no parent missing from the trace.
        linked = all(not c.span.parent_span_id or c.span.parent_span_id in ids for c in spans)
        return {(c.service, c.span.name) for c in spans}, linked

    async def whole_trace() -> bool:
        seen, linked = complete()
        return expected <= seen and linked

    try:
        await wait_until(whole_trace, timeout=20)
    except AssertionError:
        seen, linked = complete()
        raise AssertionError(
            f"missing {expected - seen}, all linked: {linked}; trace has {sorted(seen)}"
        ) from None
    # The log lines of that request and of its consumer carry the same trace id.
    access = [
        line
        for line in log_lines(traced, "gateway")
        if line.get("logger") == "access" and "/webhooks/whatsapp" in line.get("msg", "")
    ]
    assert [line["trace_id"] for line in access] == [root.trace_id]
    consumed = [
        line
        for line in log_lines(traced, "conversations")
        if line.get("logger") == "consumer" and line.get("event_type") == "inbound_message.accepted"
    ]
    assert [line["trace_id"] for line in consumed] == [root.trace_id]
