"""FastAPI plumbing every service uses: internal-token guard, request context, health, metrics."""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.telemetry import TelemetryConfig
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import telemetry
from shared.db.unavailable import DATABASE_ERRORS, database_away
from shared.logging import request_id_var, user_id_var
from shared.tokens import InvalidInternalToken, Principal, TokenVerifier
from shared.tracing import traceparent_var

log = logging.getLogger("access")
T = TypeVar("T")

REQUEST_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route",
    ["service", "method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REQUESTS = Counter("http_requests_total", "HTTP requests", ["service", "method", "route", "status"])

OPEN_PATHS = frozenset({"/health", "/ready", "/metrics"})


class Page(BaseModel, Generic[T]):
    """Every list endpoint answers `{"data": [...], "count": N}`; count is the total match."""

    data: list[T]
    count: int


class Pagination(BaseModel):
    skip: int
    limit: int


# Dependencies that do no I/O are still `async def`: FastAPI runs a plain `def` dependency in
# a worker thread, a thread hop on every request for what is a field read.
async def pagination(
    # Bounded: Postgres refuses an OFFSET past a bigint, which would be a 500.
    skip: Annotated[int, Query(ge=0, le=1_000_000_000, description="Rows to skip")] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="Rows to return (max 500)")] = 100,
) -> Pagination:
    return Pagination(skip=skip, limit=limit)


PaginationDep = Annotated[Pagination, Depends(pagination)]


async def get_principal(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


class InternalAuthMiddleware:
    """Refuse (401) anything that lacks a valid internal token for this service.

    Placed around the whole app, so unknown paths and the OpenAPI document are covered too.
    """

    def __init__(self, app: ASGIApp, token_key: str, audience: str) -> None:
        self.app = app
        self.tokens = TokenVerifier(token_key, audience)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"").decode()
        scheme, _, token = header.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token:
                raise InvalidInternalToken("missing internal token")
            principal = self.tokens.verify(token)
        except InvalidInternalToken:
            response = JSONResponse(
                {"detail": "This service only accepts requests forwarded by the gateway"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        token_var = user_id_var.set(str(principal.user_id) if principal.user_id else None)
        try:
            await self.app(scope, receive, send)
        finally:
            user_id_var.reset(token_var)


class RequestContextMiddleware:
    """Request id in and out, one JSON access-log line, latency histogram by route."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode()[:100] or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        # Tracing on, FastAPI's server span is current here: logs and events carry its ids.
        trace_token = traceparent_var.set(
            telemetry.continued(headers.get(b"traceparent", b"").decode())
        )
        status = 500
        answered = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if not answered:
                # Starlette's own 500 (the server-error middleware, outside this one, sends
                # nothing once an answer started), with the request id like every answer.
                await PlainTextResponse("Internal Server Error", status_code=500)(
                    scope, receive, send_with_id
                )
            raise
        finally:
            elapsed = time.perf_counter() - started
            labels = (self.service, scope["method"], route_template(scope), str(status))
            REQUEST_LATENCY.labels(*labels).observe(elapsed)
            REQUESTS.labels(*labels).inc()
            if scope["path"] not in OPEN_PATHS:
                # The guard inside has already reset its user id; the principal it verified
                # stays in the request state.
                principal = scope.get("state", {}).get("principal")
                user_id = getattr(principal, "user_id", None)
                user_token = user_id_var.set(str(user_id)) if user_id else None
                log.info(
                    "%s %s %s",
                    scope["method"],
                    # A route may say what to log instead of a path that holds a secret.
                    scope.get("state", {}).get("log_path") or scope["path"],
                    status,
                    extra={"status": status, "duration_ms": round(elapsed * 1000, 2)},
                )
                if user_token is not None:
                    user_id_var.reset(user_token)
            request_id_var.reset(token)
            traceparent_var.reset(trace_token)


def route_template(scope: Scope) -> str:
    """The matched route as written, with its router prefix: `/api/v1/workspaces/{id}`.

    FastAPI puts the route of an included router in the scope without the prefix it was
    included under, so the prefix is the shortest head of the real path that leaves a tail
    the route matches. Ids never reach the label; unmatched paths share one label.
    """
    route = scope.get("route")
    template = getattr(route, "path", None)
    regex = getattr(route, "path_regex", None)
    if not template:
        return "unmatched"
    path: str = scope["path"]
    if regex is None or regex.match(path):
        return str(template)
    for cut, char in enumerate(path):
        if char == "/" and cut and regex.match(path[cut:]):
            return path[:cut] + str(template)
    return str(template)


Check = Callable[[], Awaitable[bool]]


def health_router(checks: Callable[[], dict[str, Check]], metrics_token: str = "") -> APIRouter:
    """`/health`: the process is alive. `/ready`: every dependency answers (else 503). Both
    open (probes carry no credentials) and say nothing beyond "ok"/"unavailable" per check.

    `/metrics` (traffic, login failures, backlogs) only with `Authorization: Bearer
    <METRICS_TOKEN>`: 401 without it, and 404 when no token is configured.
    """
    router = APIRouter(tags=["health"])
    expected = f"Bearer {metrics_token}".encode()

    @router.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/ready", include_in_schema=False)
    async def ready() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks().items():
            try:
                ok = await check()
            except Exception as exc:
                log.warning("readiness check %s failed: %s", name, exc)
                ok = False
            results[name] = "ok" if ok else "unavailable"
        healthy = all(v == "ok" for v in results.values())
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable", "checks": results},
            status_code=200 if healthy else 503,
        )

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if not metrics_token:
            return problem(404, "Not Found")
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return problem(
                401, "Metrics need the METRICS_TOKEN", headers={"WWW-Authenticate": "Bearer"}
            )
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def fastapi_telemetry() -> TelemetryConfig:
    """`FastAPI(telemetry=...)`: FastAPI's own server spans (and its dependency, endpoint and
    serialization spans) into our provider, probes left out; off entirely without one."""
    provider = telemetry.provider()
    if provider is None:
        return {"tracing": False, "metrics": False, "logs": False}
    return {
        "tracer_provider": provider,
        "metrics": False,  # Prometheus has these already
        "logs": False,  # our own log lines carry the trace id
        "exclude": lambda scope: scope.get("path") in OPEN_PATHS,
    }


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """A database restarting or out of connections is a 503 the caller may retry, not a 500;
    any other database error is ours and stays one."""
    if not database_away(exc):
        raise exc
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem(
        503,
        "The service cannot reach its database just now; try again in a moment.",
        headers={"Retry-After": "1"},
    )


def install_common(app: FastAPI, service: str, token_key: str | None) -> None:
    """Middlewares in order: request context outermost, then the internal-token guard
    (`token_key`: the key of this service's own audience, shared.tokens). A database that is
    away answers 503."""
    for error in DATABASE_ERRORS:
        app.add_exception_handler(error, database_unavailable)
    if token_key is not None:
        app.add_middleware(InternalAuthMiddleware, token_key=token_key, audience=service)
    app.add_middleware(RequestContextMiddleware, service=service)


def problem(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def exception_handlers(
    mapping: Sequence[tuple[type[Exception], int]],
) -> dict[type[Exception], Callable[[Request, Exception], Awaitable[JSONResponse]]]:
    """Map domain errors to statuses; the error's message is the readable `detail`."""
    handlers: dict[type[Exception], Callable[[Request, Exception], Awaitable[JSONResponse]]] = {}
    for exc_type, status in mapping:

        async def handler(_: Request, exc: Exception, status: int = status) -> JSONResponse:
            return problem(status, str(exc))

        handlers[exc_type] = handler
    return handlers
