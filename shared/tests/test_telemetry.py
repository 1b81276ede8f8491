"""OpenTelemetry spans: HTTP requests, forwarded calls, database statements, relay batches,
publishes and consumes, joined into one trace, with the ids the logs already carry."""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import text

from shared import telemetry
from shared.db import make_engine
from shared.events import Envelope, UserCreatedV1
from shared.logging import JsonFormatter
from shared.runtime import Runtime
from shared.testing import delete_bus_names, wait_until
from shared.tracing import new_traceparent, trace_id, traceparent_var
from shared.web import fastapi_telemetry, health_router, install_common

from .conftest import outbox
from .test_relay import emit


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.install(provider)
    try:
        yield exporter
    finally:
        telemetry.uninstall()


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("tracetest"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def hex_trace(span: ReadableSpan) -> str:
    return f"{span.context.trace_id:032x}"


def ids(span: ReadableSpan) -> str:
    """The trace and span ids of `span` as a traceparent writes them."""
    return f"{span.context.trace_id:032x}-{span.context.span_id:016x}"


def ids_in(traceparent: str | None) -> str:
    return "-".join((traceparent or "").split("-")[1:3])


def named(exporter: InMemorySpanExporter, test: Callable[[str], bool]) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if test(s.name)]


def small_app() -> FastAPI:
    app = FastAPI(telemetry=fastapi_telemetry())
    router = APIRouter()

    @router.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str | None]:
        logging.getLogger("handler").info("reading %s", thing_id)
        return {"traceparent": traceparent_var.get()}

    app.include_router(router, prefix="/api/v1")
    app.include_router(health_router(dict))
    install_common(app, "tracetest", None)
    return app


async def test_request_span_continues_the_callers_trace_and_its_ids_are_in_logs_and_answer(
    spans: InMemorySpanExporter, json_lines: io.StringIO
) -> None:
    caller = new_traceparent()
    transport = httpx.ASGITransport(app=small_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        response = await client.get("/api/v1/things/42", headers={"traceparent": caller})
        assert (await client.get("/health")).status_code == 200
    assert response.status_code == 200
    # FastAPI's own spans: the server span and its operations; the probe is not traced.
    [server] = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert {s.name for s in spans.get_finished_spans()} >= {"fastapi.endpoint"}
    assert server.name == "GET /api/v1/things/{thing_id}"
    assert server.kind == SpanKind.SERVER
    assert hex_trace(server) == trace_id(caller)
    assert server.parent is not None and f"{server.parent.span_id:016x}" == caller.split("-")[2]
    assert server.attributes["http.response.status_code"] == 200
    # What the handler ran under (and would put in an event) is the span itself.
    assert ids_in(response.json()["traceparent"]) == ids(server)
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    lines = [line for line in lines if line["logger"] in ("handler", "access")]
    assert len(lines) == 2
    assert {line["trace_id"] for line in lines} == {trace_id(caller)}
    assert any(line["logger"] == "access" and line["status"] == 200 for line in lines)


async def test_without_a_provider_nothing_is_recorded_and_trace_ids_flow_as_before() -> None:
    assert telemetry.tracer() is None
    caller = new_traceparent()
    transport = httpx.ASGITransport(app=small_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        response = await client.get("/api/v1/things/1", headers={"traceparent": caller})
    inner = response.json()["traceparent"]
    assert trace_id(inner) == trace_id(caller) and inner != caller
    with telemetry.span("batch") as span:
        assert span is None
        assert traceparent_var.get() is not None
    assert telemetry.continued(caller) != caller
    assert trace_id(telemetry.continued(caller)) == trace_id(caller)


async def test_forwarded_call_is_a_client_span_whose_context_the_upstream_receives(
    spans: InMemorySpanExporter,
) -> None:
    seen: list[str] = []
    upstream = FastAPI()

    @upstream.get("/api/v1/workspaces/me")
    async def down(request: Request) -> JSONResponse:
        seen.append(request.headers["traceparent"])
        return JSONResponse({"detail": "down"}, status_code=503)

    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=upstream))
    telemetry.instrument_client(client)
    with telemetry.span("GET /api/v1/workspaces/me", kind=SpanKind.SERVER) as parent:
        response = await client.get("http://workspaces:8001/api/v1/workspaces/me")
    await client.aclose()
    assert response.status_code == 503
    [call] = [s for s in spans.get_finished_spans() if s.kind == SpanKind.CLIENT]
    assert parent is not None and call.parent is not None
    assert call.parent.span_id == parent.get_span_context().span_id
    assert [ids_in(t) for t in seen] == [ids(call)]
    assert call.attributes["http.response.status_code"] == 503
    assert not call.status.is_ok


async def test_statements_inside_a_span_become_its_children_and_idle_ones_start_no_trace(
    spans: InMemorySpanExporter, engine, names: dict[str, str]
) -> None:
    engine = make_engine(names["database_url"], pool_size=1)  # the shared one stays untraced
    telemetry.instrument_engine(engine)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))  # outside any span: a poll, a probe
            with telemetry.span("work") as work:
                await conn.execute(text('SELECT count(*) FROM "relaytest".outbox'))
                with pytest.raises(Exception, match="nope"):
                    await conn.execute(text("SELECT * FROM nope"))
    finally:
        await engine.dispose()
    statements = [s for s in spans.get_finished_spans() if s.kind == SpanKind.CLIENT]
    assert [s.name for s in statements] == ["SELECT relaytest.outbox", "SELECT nope"]
    assert work is not None
    assert {s.parent.span_id for s in statements if s.parent} == {work.get_span_context().span_id}
    assert statements[0].attributes["db.system.name"] == "postgresql"
    assert not statements[1].status.is_ok


@pytest.mark.usefixtures("clean")
async def test_an_event_is_published_and_consumed_inside_the_trace_that_emitted_it(
    settings, spans: InMemorySpanExporter, json_lines: io.StringIO
) -> None:
    service = f"tr{uuid.uuid4().hex[:6]}"
    runtime = Runtime(settings, service, outbox)
    handled: list[tuple[Envelope, str | None]] = []

    async def on_user_created(envelope: Envelope) -> None:
        handled.append((envelope, traceparent_var.get()))

    runtime.bus.subscribe(UserCreatedV1, on_user_created)
    await runtime.start()
    try:
        with telemetry.span("POST /api/v1/users/signup", kind=SpanKind.SERVER) as request:
            await emit(runtime.engine, [UserCreatedV1(user_id=uuid.uuid4(), email="t@example.com")])
        assert request is not None
        trace = f"{request.get_span_context().trace_id:032x}"

        def process_spans() -> list[ReadableSpan]:
            return named(spans, lambda n: n.endswith("user.created.v1 process"))

        async def done() -> bool:
            return bool(handled) and bool(process_spans())

        await wait_until(done)
    finally:
        await runtime.stop()
        await delete_bus_names(
            settings.rabbitmq_url, settings.events_exchange, runtime.bus.queue_names
        )

    [insert] = named(spans, lambda n: n == "INSERT relaytest.outbox")
    assert hex_trace(insert) == trace
    [publish] = named(spans, lambda n: n.endswith("user.created.v1 publish"))
    [process] = process_spans()
    assert publish.kind == SpanKind.PRODUCER and process.kind == SpanKind.CONSUMER
    assert hex_trace(publish) == hex_trace(process) == trace
    # The batch is a trace of its own, linked to the request whose event it carried.
    [batch] = named(spans, lambda n: n == "outbox relay")
    assert hex_trace(batch) != trace
    assert [link.context.span_id for link in batch.links] == [request.get_span_context().span_id]
    # The claim marks the rows in the statement that finds them, before there is a batch: like
    # an idle poll, it starts no trace of its own.
    assert not named(spans, lambda n: n.startswith(("WITH", "UPDATE relaytest")))
    # The handler ran as the consume span; the consumer's log line names that trace.
    [(envelope, handler_traceparent)] = handled
    assert ids_in(handler_traceparent) == ids(process)
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    [consumed] = [line for line in lines if line["logger"] == "consumer"]
    assert consumed["trace_id"] == trace and consumed["event_id"] == str(envelope.event_id)


class _Collector(BaseHTTPRequestHandler):
    received: list[ExportTraceServiceRequest]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.server.received.append((self.path, request))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


async def test_with_an_endpoint_spans_are_exported_over_otlp_http_under_the_service_name() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert telemetry.configure("gateway", "") is False
        assert telemetry.configure(
            "gateway", f"http://127.0.0.1:{server.server_port}", sampler_name="always_on"
        )
        with telemetry.span("exported") as span:
            assert span is not None
        telemetry.flush()
        [(path, request)] = server.received  # type: ignore[attr-defined]
    finally:
        provider = telemetry.provider()
        telemetry.uninstall()
        if provider is not None:
            provider.shutdown()
        server.shutdown()
    assert path == "/v1/traces"
    [resource_spans] = request.resource_spans
    attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert attributes["service.name"] == "gateway"
    assert [s.name for s in resource_spans.scope_spans[0].spans] == ["exported"]


def test_sampler_names_are_the_standard_ones_and_a_wrong_one_is_refused() -> None:
    assert (
        "TraceIdRatioBased"
        in telemetry.sampler("parentbased_traceidratio", "0.25").get_description()
    )
    assert telemetry.sampler("always_off").get_description() == "AlwaysOffSampler"
    with pytest.raises(ValueError, match="unknown OTEL_TRACES_SAMPLER"):
        telemetry.sampler("sometimes")


def test_statement_names_say_the_operation_and_the_table() -> None:
    assert telemetry.statement_name('INSERT INTO "conversations".messages (id) VALUES ($1)') == (
        "INSERT conversations.messages"
    )
    assert telemetry.statement_name("UPDATE identity.users SET x=1") == "UPDATE identity.users"
    assert telemetry.statement_name("select 1") == "SELECT"


def test_secret_query_parameters_and_addresses_in_paths_are_redacted() -> None:
    assert telemetry.redact_text("access_token=a.b.c&x=1") == "access_token=REDACTED&x=1"
    assert telemetry.redact_text("http://h/e?token=t&hub.verify_token=v&hub.challenge=9") == (
        "http://h/e?token=REDACTED&hub.verify_token=REDACTED&hub.challenge=9"
    )
    assert telemetry.redact_text("code=1&X-Amz-Signature=2&api_key=3&password=4&q=ok") == (
        "code=REDACTED&X-Amz-Signature=REDACTED&api_key=REDACTED&password=REDACTED&q=ok"
    )
    assert telemetry.redact_text("/api/v1/password-recovery/ana%40example.com") == (
        "/api/v1/password-recovery/REDACTED"
    )
    assert telemetry.redact_text("SELECT 1 WHERE token = $1") == "SELECT 1 WHERE token = $1"
