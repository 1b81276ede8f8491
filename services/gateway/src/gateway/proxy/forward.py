"""Forwarding to the owning service with a short-lived internal token."""

from __future__ import annotations

import logging

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from gateway.api.deps import authenticate_request
from gateway.proxy.inputs import upstream_path
from gateway.proxy.routes import FORWARDED_PREFIXES, match
from gateway.proxy.streams import StreamForwarder, is_stream, query_access_token
from gateway.settings import Settings
from shared.logging import request_id_var
from shared.tokens import ANONYMOUS, Principal, sign_internal_token
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
    }
)
DROP_RESPONSE_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}
)


class Forwarder:
    """One pooled HTTP client for all services."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        self.targets = {
            "workspaces": settings.workspaces_url.rstrip("/"),
            "connectors": settings.connectors_url.rstrip("/"),
            "conversations": settings.conversations_url.rstrip("/"),
        }
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.upstream_timeout_seconds, connect=2.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
            transport=transport,
        )
        self.streams = StreamForwarder(settings, DROP_RESPONSE_HEADERS, transport)

    async def close(self) -> None:
        await self.client.aclose()
        await self.streams.close()

    def token(self, service: str, principal: Principal) -> str:
        return sign_internal_token(
            self.settings.secret_key,
            service,
            principal,
            ttl_seconds=self.settings.internal_token_ttl_seconds,
        )

    async def forward(self, request: Request, service: str, principal: Principal) -> Response:
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in DROP_REQUEST_HEADERS
        }
        headers["authorization"] = f"Bearer {self.token(service, principal)}"
        headers["x-request-id"] = request_id_var.get() or ""
        headers["traceparent"] = child_of(traceparent_var.get())
        if request.client:
            headers["x-forwarded-for"] = request.client.host
        url = self.targets[service] + upstream_path(request.scope)
        if is_stream(request):
            return await self.streams.forward(request, service, url, headers)
        try:
            upstream = await self.client.request(
                request.method,
                url,
                params=request.query_params.multi_items(),
                content=await request.body(),
                headers=headers,
            )
        except httpx.TimeoutException:
            log.warning("upstream timeout", extra={"upstream": service})
            return JSONResponse(
                {"detail": f"The {service} service did not answer in time"}, status_code=504
            )
        except httpx.TransportError as exc:
            log.warning("upstream unavailable: %s", exc, extra={"upstream": service})
            return JSONResponse(
                {"detail": f"The {service} service is unavailable, try again shortly"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        out_headers = {
            k: v for k, v in upstream.headers.items() if k.lower() not in DROP_RESPONSE_HEADERS
        }
        return Response(upstream.content, status_code=upstream.status_code, headers=out_headers)


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
