"""Forwarding to the owning service with a short-lived internal token."""

from __future__ import annotations

import logging

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from gateway.api.deps import authenticate_request
from gateway.proxy.inputs import upstream_path, upstream_query
from gateway.proxy.routes import FORWARDED_PREFIXES, match
from gateway.proxy.streams import StreamForwarder, is_stream, query_access_token
from gateway.settings import Settings
from shared import http1, telemetry
from shared.logging import request_id_var
from shared.tokens import ANONYMOUS, Principal, TokenSigner
from shared.tracing import child_of, traceparent_var

log = logging.getLogger(__name__)

# Hop-by-hop headers (RFC 9110 §7.6.1) and the ones we set ourselves.
DROP_REQUEST_HEADERS = frozenset(
    {
        "authorization",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "x-request-id",
        "x-forwarded-for",
        "traceparent",
    }
)
DROP_RESPONSE_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}
)


class Forwarder:
    """One keep-alive pool per service (shared.http1) for forwarded calls; httpx for the
    streamed answers and the occasional documents (OpenAPI, AsyncAPI) of each service."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        self.targets = {
            "workspaces": settings.workspaces_url.rstrip("/"),
            "connectors": settings.connectors_url.rstrip("/"),
            "conversations": settings.conversations_url.rstrip("/"),
        }
        # One key per audience (shared.tokens): a token for one service is refused by another.
        self.signers = {
            service: TokenSigner(
                settings.token_key(service, "gateway"),
                service,
                settings.internal_token_ttl_seconds,
            )
            for service in self.targets
        }
        self.pools = {
            service: http1.pool_for(service, url, settings.upstream_timeout_seconds)
            for service, url in self.targets.items()
        }
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.upstream_timeout_seconds, connect=2.0),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=5),
            transport=transport,
        )
        self.streams = StreamForwarder(settings, DROP_RESPONSE_HEADERS, transport)

    async def close(self) -> None:
        for pool in self.pools.values():
            await pool.close()
        await self.client.aclose()
        await self.streams.close()

    def token(self, service: str, principal: Principal) -> str:
        return self.signers[service].token(principal)

    async def forward(self, request: Request, service: str, principal: Principal) -> Response:
        headers = [
            (k, v) for k, v in request.headers.items() if k not in DROP_REQUEST_HEADERS
        ]  # Starlette gives header names in lower case
        headers.append(("authorization", f"Bearer {self.token(service, principal)}"))
        headers.append(("x-request-id", request_id_var.get() or ""))
        if request.client:
            headers.append(("x-forwarded-for", request.client.host))
        path = upstream_path(request.scope)
        if is_stream(request):
            headers.append(("traceparent", child_of(traceparent_var.get())))
            return await self.streams.forward(
                request, service, self.targets[service] + path, dict(headers)
            )
        query = upstream_query(request.scope)
        target = f"{path}?{query}" if query else path
        body = await request.body()
        pool = self.pools[service]
        try:
            upstream = await telemetry.traced_request(
                pool, request.method, target, headers, body, path=path
            )
        except http1.UpstreamTimeout:
            log.warning("upstream timeout", extra={"upstream": service})
            return JSONResponse(
                {"detail": f"The {service} service did not answer in time"}, status_code=504
            )
        except http1.UpstreamOutcomeUnknown as exc:
            # Not "retry shortly": the service may have applied it, and it was not resent.
            log.warning("upstream closed unanswered: %s", exc, extra={"upstream": service})
            return JSONResponse(
                {
                    "detail": f"The {service} service closed the connection before answering; "
                    "the request may have been applied: check before sending it again"
                },
                status_code=502,
            )
        except http1.UpstreamError as exc:
            log.warning("upstream unavailable: %s", exc, extra={"upstream": service})
            return JSONResponse(
                {"detail": f"The {service} service is unavailable, try again shortly"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        response = Response(upstream.body, status_code=upstream.status)
        raw = response.raw_headers  # content-length of the body, as Starlette computed it
        raw.extend(
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in upstream.headers
            if k.lower() not in DROP_RESPONSE_HEADERS
        )
        return response


router = APIRouter()


async def forward(request: Request) -> Response:
    """Everything the gateway does not answer itself goes to the service that owns it."""
    route = match(request.url.path)
    if route is None:
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    if route.public:
        principal = ANONYMOUS
    else:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        bearer = (token if scheme.lower() == "bearer" else None) or query_access_token(request)
        caller = await authenticate_request(request, bearer)
        principal = Principal(user_id=caller.id, is_superuser=caller.is_superuser)
    forwarder: Forwarder = request.app.state.forwarder
    return await forwarder.forward(request, route.service, principal)


# Registered per forwarded prefix, so the gateway's own paths keep FastAPI's 404 and 405.
for _prefix in FORWARDED_PREFIXES:
    router.add_api_route(
        _prefix + "{rest:path}",
        forward,
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
