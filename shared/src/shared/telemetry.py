"""OpenTelemetry spans on top of the W3C trace context the system already carries.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set: then every service exports spans over
OTLP/HTTP for its HTTP requests, forwarded calls, RabbitMQ publishes and consumes (FastStream's
middleware), outbox relay batches and database statements. Off, nothing here runs on the hot
paths beyond one `None` check, and the ids in the logs are made as before (`shared.tracing`).

On, `traceparent_var` always holds the current span's own context, so the `trace_id` of every
log line is the id of the trace in the collector, and events emitted while a span is current
name that span as their parent: a consumer's spans join the trace of the request that caused
the event, across the outbox and the bus.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import httpx
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import http1
from shared.tracing import child_of, traceparent_var

if TYPE_CHECKING:  # the SDK is imported only when tracing is switched on
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.sampling import Sampler

log = logging.getLogger(__name__)
_PROPAGATOR = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None
_tracer: Tracer | None = None


# -- set-up --------------------------------------------------------------------------------


def sampler(name: str, arg: str = "") -> Sampler:
    """The standard `OTEL_TRACES_SAMPLER` names; a ratio defaults to 1.0."""
    from opentelemetry.sdk.trace.sampling import (
        ALWAYS_OFF,
        ALWAYS_ON,
        ParentBased,
        TraceIdRatioBased,
    )

    ratio = float(arg) if arg else 1.0
    samplers: dict[str, Sampler] = {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "traceidratio": TraceIdRatioBased(ratio),
        "parentbased_always_on": ParentBased(ALWAYS_ON),
        "parentbased_always_off": ParentBased(ALWAYS_OFF),
        "parentbased_traceidratio": ParentBased(TraceIdRatioBased(ratio)),
    }
    try:
        return samplers[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown OTEL_TRACES_SAMPLER {name!r}; one of {sorted(samplers)}"
        ) from None


def configure(
    service: str,
    endpoint: str,
    *,
    service_name: str = "",
    sampler_name: str = "parentbased_always_on",
    sampler_arg: str = "",
) -> bool:
    """Export over OTLP/HTTP to `endpoint` (the collector's base URL). Once per process: the
    first service wins, which is the only one in a deployed process. Returns True if on."""
    if _provider is not None:
        return True
    if not endpoint:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name or service}),
        sampler=sampler(sampler_name, sampler_arg),
    )
    provider.add_span_processor(
        redacting(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces"))
        )
    )
    install(provider)
    return True


# -- what never leaves the process -----------------------------------------------------------

REDACTED = "REDACTED"
# A query parameter whose name holds one of these is a credential: the owner's
# `access_token`, a visitor's `token`, OAuth's `code`, signatures, keys, passwords.
_SECRET_NAME = re.compile(
    r"token|code|sig|key|pass|pwd|secret|credential|auth|session|ticket|otp|nonce", re.IGNORECASE
)
# `name=value` at the start of a query string or after `?`, `&` or `;` of a URL.
_PARAM = re.compile(r"(^|[?&;])([^=&?#;\s]+)=([^&#;\s]*)")
# A path segment holding an e-mail address (`/password-recovery/ana@example.com`).
_ADDRESS_SEGMENT = re.compile(r"/[^/?#\s]*(?:@|%40)[^/?#\s]*", re.IGNORECASE)


def secret_parameter(name: str) -> bool:
    return _SECRET_NAME.search(name) is not None


def redact_text(text: str) -> str:
    """`text` (a URL, a query string, a message quoting one) with the value of every secret
    query parameter and every e-mail address in a path replaced by REDACTED."""
    if "=" in text:

        def value(match: re.Match[str]) -> str:
            lead, name, found = match.groups()
            return f"{lead}{name}={REDACTED if secret_parameter(name) else found}"

        text = _PARAM.sub(value, text)
    if "@" in text or "%40" in text.lower():
        text = _ADDRESS_SEGMENT.sub("/" + REDACTED, text)
    return text


def _redact_attributes(attributes: Attributes) -> dict[str, Any] | None:
    """The attributes with secrets redacted, or None when there was nothing to redact."""
    changed: dict[str, Any] | None = None
    for key, found in (attributes or {}).items():
        if isinstance(found, str):
            clean = redact_text(found)
            if clean != found:
                changed = changed if changed is not None else dict(attributes or {})
                changed[key] = clean
    return changed


def redacted(span: ReadableSpan) -> ReadableSpan:
    """`span` as it may be exported: secrets out of its attributes and its events' (url.query,
    url.full, http.target, an exception's message...)."""
    from opentelemetry.sdk.trace import Event
    from opentelemetry.sdk.trace import ReadableSpan as Readable

    attributes = _redact_attributes(span.attributes)
    events = []
    events_changed = False
    for item in span.events:
        clean = _redact_attributes(item.attributes)
        if clean is not None:
            events_changed = True
            item = Event(item.name, clean, item.timestamp)
        events.append(item)
    if attributes is None and not events_changed:
        return span
    return Readable(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes if attributes is not None else span.attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def redacting(inner: SpanProcessor) -> SpanProcessor:
    """A span processor that hands `inner` (the exporting one) each ended span redacted."""
    from opentelemetry.sdk.trace import SpanProcessor as Base

    class Redacting(Base):
        def on_start(self, span: Any, parent_context: otel_context.Context | None = None) -> None:
            inner.on_start(span, parent_context)

        def on_end(self, span: ReadableSpan) -> None:
            inner.on_end(redacted(span))

        def shutdown(self) -> None:
            inner.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return inner.force_flush(timeout_millis)

    return Redacting()


def install(provider: TracerProvider) -> None:
    """Make `provider` the one every span goes to (tests install one with a memory exporter).

    Also the global OpenTelemetry provider when none is set yet, so code that asks
    `opentelemetry.trace.get_tracer(...)` for spans of its own joins the same traces.
    """
    global _provider, _tracer
    _provider = provider
    _tracer = provider.get_tracer("base-platform")
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)


def uninstall() -> None:
    global _provider, _tracer
    _provider = None
    _tracer = None


def provider() -> TracerProvider | None:
    return _provider


def tracer() -> Tracer | None:
    """None when tracing is off: callers then keep to the plain trace-context path."""
    return _tracer


def flush(timeout_millis: int = 2000) -> None:
    if _provider is not None:
        _provider.force_flush(timeout_millis)


# -- trace context -------------------------------------------------------------------------


def traceparent_of(span: Span) -> str | None:
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def continued(traceparent: str | None) -> str:
    """The traceparent a handler runs under: the current span's when tracing is on (the
    consume span FastStream opened), else the same trace with a fresh span id."""
    if _tracer is not None:
        current = traceparent_of(trace.get_current_span())
        if current is not None:
            return current
    return child_of(traceparent)


def context_from(traceparent: str | None) -> otel_context.Context | None:
    if not traceparent:
        return None
    return _PROPAGATOR.extract({"traceparent": traceparent})


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    remote_parent: str | None = None,
    remote: bool = False,
    attributes: Mapping[str, Any] | None = None,
    links: Sequence[Link] = (),
    traced: bool = True,
) -> Iterator[Span | None]:
    """A current span whose context is also `traceparent_var` (so logs and emitted events
    carry it). `remote=True`: continue `remote_parent` (a caller's traceparent) or start a new
    trace; otherwise a child of the current span. Tracing off, `traceparent_var` gets a
    fresh span id in the same trace (as before) and None is yielded; `traced=False` too.
    """
    if _tracer is None or not traced:
        parent = remote_parent if remote else traceparent_var.get()
        token = traceparent_var.set(child_of(parent))
        try:
            yield None
        finally:
            traceparent_var.reset(token)
        return
    ctx = (context_from(remote_parent) or otel_context.Context()) if remote else None
    with _tracer.start_as_current_span(
        name, context=ctx, kind=kind, attributes=dict(attributes or {}), links=links
    ) as current:
        token = traceparent_var.set(traceparent_of(current))
        try:
            yield current
        finally:
            traceparent_var.reset(token)


def attached(traceparent: str | None) -> AbstractContextManager[None]:
    """Run as a child of `traceparent` (the relay publishing an event of another trace)."""
    if _tracer is None:  # every publish passes here: no generator when tracing is off
        return _NOTHING
    return _attached(traceparent)


_NOTHING = nullcontext()


@contextmanager
def _attached(traceparent: str | None) -> Iterator[None]:
    ctx = context_from(traceparent)
    if ctx is None or traceparent == traceparent_of(trace.get_current_span()):
        yield
        return
    token = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(token)


def links_to(traceparents: Iterator[str | None] | Sequence[str | None]) -> list[Link]:
    """Links to the spans that caused a batch's events (a batch spans many traces)."""
    if _tracer is None:
        return []
    links = []
    for traceparent in traceparents:
        ctx = context_from(traceparent)
        span_context = trace.get_current_span(ctx).get_span_context() if ctx else None
        if span_context is not None and span_context.is_valid:
            links.append(Link(span_context))
    return links


# -- instrumentation -----------------------------------------------------------------------


def instrument_broker(broker: Any) -> None:
    """FastStream's own spans for every publish and consume, outermost so handlers and our
    consume log line run inside the consume span."""
    if _provider is None:
        return
    from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware

    broker.insert_middleware(RabbitTelemetryMiddleware(tracer_provider=_provider))


_TARGET = re.compile(r"\b(?:INTO|UPDATE|FROM)\s+((?:\"?\w+\"?\.)?\"?\w+\"?)", re.IGNORECASE)


def statement_name(statement: str) -> str:
    """`INSERT conversations.messages`: the operation and the first table it names."""
    head = statement.lstrip()[:400]
    operation = head.split(None, 1)[0].upper() if head else "SQL"
    match = _TARGET.search(head)
    return f"{operation} {match.group(1).replace(chr(34), '')}" if match else operation


def instrument_engine(engine: AsyncEngine) -> None:
    """One CLIENT span per statement, only inside a traced request, message or batch: the
    relay's idle polls and health checks would otherwise each start a trace of their own."""
    if _tracer is None:
        return
    url = engine.url
    base = {
        "db.system.name": "postgresql",
        "db.namespace": url.database or "",
        "server.address": url.host or "",
        "server.port": url.port or 5432,
    }

    def before(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:
        tracer = _tracer  # read each time: tests install and remove providers
        if tracer is None or ctx is None or not trace.get_current_span().is_recording():
            return
        attributes: dict[str, Any] = {**base, "db.query.text": statement[:2000]}
        if many:
            attributes["db.operation.batch.size"] = len(params)
        ctx._otel_span = tracer.start_span(
            statement_name(statement), kind=SpanKind.CLIENT, attributes=attributes
        )

    def after(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:
        current = getattr(ctx, "_otel_span", None)
        if current is not None:
            current.end()
            ctx._otel_span = None

    def failed(exception_context: Any) -> None:
        current = getattr(exception_context.execution_context, "_otel_span", None)
        if current is not None:
            error = exception_context.original_exception
            current.record_exception(error)
            current.set_status(Status(StatusCode.ERROR, type(error).__name__))
            current.end()
            exception_context.execution_context._otel_span = None

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
    event.listen(engine.sync_engine, "handle_error", failed)


@contextmanager
def client_span(method: str, host: str, port: int, path: str) -> Iterator[str | None]:
    """A CLIENT span around one outgoing call made without httpx (shared.http1); yields
    the `traceparent` to send, or None when tracing is off. `record_status` notes the answer."""
    if _tracer is None:
        yield None
        return
    with _tracer.start_as_current_span(
        f"{method} {host}",
        kind=SpanKind.CLIENT,
        attributes={
            "http.request.method": method,
            "url.full": f"http://{host}:{port}{path}",
            "server.address": host,
            "server.port": port,
        },
    ) as current:
        yield traceparent_of(current)


async def traced_request(
    pool: http1.Pool,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes = b"",
    *,
    path: str,
    timeout: float | None = None,
) -> http1.Reply:
    """One call to another service through an http1 pool, in a CLIENT span (`path`: the
    target without its query, as the span shows it), with the trace context sent on as
    `traceparent` (tracing off: a child of the current context, so logs still join)."""
    with client_span(method, pool.host, pool.port, path) as parent:
        headers.append(("traceparent", parent or child_of(traceparent_var.get())))
        reply = await pool.request(method, target, headers, body, timeout=timeout)
        record_status(reply.status)
    return reply


def record_status(status: int) -> None:
    """The answer's status on the current CLIENT span (see `client_span`)."""
    if _tracer is None:
        return
    current = trace.get_current_span()
    current.set_attribute("http.response.status_code", status)
    if status >= 500:
        current.set_status(Status(StatusCode.ERROR))


class TracedTransport(httpx.AsyncBaseTransport):
    """A CLIENT span around each outgoing request, its context sent as `traceparent`; the
    span lasts until the response body is read or closed (streamed answers included)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert _tracer is not None
        current = _tracer.start_span(
            f"{request.method} {request.url.host}",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": request.method,
                "url.full": str(request.url.copy_with(query=None)),
                "server.address": request.url.host,
                "server.port": request.url.port or 80,
            },
        )
        traceparent = traceparent_of(current)
        if traceparent is not None:
            request.headers["traceparent"] = traceparent
        try:
            response = await self.inner.handle_async_request(request)
        except BaseException as exc:
            current.record_exception(exc)
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            current.end()
            raise
        current.set_attribute("http.response.status_code", response.status_code)
        if response.status_code >= 500:
            current.set_status(Status(StatusCode.ERROR))
        response.stream = _EndsSpan(response.stream, current)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class _EndsSpan(httpx.AsyncByteStream):
    def __init__(self, stream: Any, span: Span) -> None:
        self.stream = stream
        self.span = span
        self.ended = False

    async def __aiter__(self) -> Any:
        async for chunk in self.stream:
            yield chunk
        self._end()

    async def aclose(self) -> None:
        try:
            await self.stream.aclose()
        finally:
            self._end()

    def _end(self) -> None:
        if not self.ended:
            self.ended = True
            self.span.end()


def instrument_client(client: httpx.AsyncClient) -> None:
    """Trace every request of `client` (its default transport and any proxy mounts).

    httpx takes a transport only at construction, where it would also drop the client's pool
    limits, so the built transports are wrapped in place.
    """
    if _tracer is None:
        return
    client._transport = TracedTransport(client._transport)
    client._mounts = {
        pattern: TracedTransport(inner) if inner is not None else None
        for pattern, inner in client._mounts.items()
    }
