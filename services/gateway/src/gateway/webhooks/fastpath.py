"""Channel webhooks straight to their handler, past the layers the rest of the API needs.

A provider's POST to one of the webhook routes costs the gateway most of its CPU in what
surrounds the handler: matching the path against every route the gateway has (its own and
every forwarded one), the body-size and text-input middlewares each reading the body, the
exception middleware and FastAPI's endpoint wrapper. `WebhookFastPath` sits just inside the
request context middleware (so the request id, access-log line and latency metrics are the
ones every request gets) and answers `POST <prefix>/webhooks/...` itself, calling the very
handler the router would, with what those layers would have done done once, in their order:

1. a declared Content-Length over the limit: 413 (BodySizeLimitMiddleware);
2. a control character in the query: 400 (TextInputMiddleware; the path is one of ours);
3. the body read whole, 413 past the limit;
4. a JSON body holding NUL or a lone surrogate, a form holding NUL: 422 (TextInputMiddleware);
5. the handler, its HTTPException (or a domain error) answered by the app's own exception
   handlers, anything else raised as before (a 500).

Any other request, and every request when tracing is on (FastAPI's spans come from the
layers skipped here), goes through the whole app. Tests send the same requests both ways and
compare the answers, logs and metrics.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.routing import APIRoute
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.proxy.inputs import body_kind, body_problem, head_problem, replay
from gateway.proxy.limits import declared_too_large, too_large
from gateway.webhooks import api, generic
from shared.web import problem


@dataclass(frozen=True, slots=True)
class Target:
    route: APIRoute
    path_params: dict[str, str] = field(default_factory=dict)


def targets(prefix: str) -> dict[str, Target]:
    """Every POST webhook route by its full path; a path parameter only where its values are
    a known few (the integrator channels), each value a path of its own."""
    found: dict[str, Target] = {}
    for route in api.router.routes:
        if not isinstance(route, APIRoute) or "POST" not in route.methods:
            continue
        _check_callable_directly(route)
        if not route.param_convertors:
            found[prefix + route.path] = Target(route)
        elif set(route.param_convertors) == {"channel"}:
            for channel in generic.INTEGRATOR_CHANNELS:
                path = prefix + route.path.replace("{channel}", channel)
                found[path] = Target(route, {"channel": channel})
    return found


def _check_callable_directly(route: APIRoute) -> None:
    """The fast path calls a webhook endpoint as `endpoint(request, **path_params)` and sends
    the Response it returns: an endpoint that asks FastAPI for more (a dependency, a query,
    header or body parameter) is refused at start-up rather than called wrongly."""
    dependant = route.dependant
    asks = [
        *(d.call for d in dependant.dependencies),
        *(p.name for p in dependant.query_params),
        *(p.name for p in dependant.header_params),
        *(p.name for p in dependant.cookie_params),
        *(p.name for p in dependant.body_params),
        *(p.name for p in dependant.path_params if p.name != "channel"),
    ]
    if asks or dependant.request_param_name is None:
        raise RuntimeError(
            f"webhook route {route.path} cannot take the fast path: it asks for {asks} "
            "(or takes no Request); give it only the request, or leave it to the whole app"
        )


class WebhookFastPath:
    def __init__(self, app: ASGIApp, max_bytes: int, prefix: str = "/api/v1") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.targets = targets(prefix)
        self._handled: ExceptionMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = (
            self.targets.get(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path")
            else None
        )
        if target is None:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if declared_too_large(headers, self.max_bytes):
            await problem(413, too_large(self.max_bytes))(scope, receive, send)
            return
        refused = head_problem(scope)
        if refused is not None:
            await problem(400, refused)(scope, receive, send)
            return
        kind = body_kind(headers)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # gone: the handler meets it as before
                await self._handle(target, scope, replay([message], receive), send)
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                if kind is None:  # a body the text checks pass on: the handler was reading it
                    _routed(target, scope)
                await problem(413, too_large(self.max_bytes))(scope, receive, send)
                return
            more = message.get("more_body", False)
        found = body_problem(kind, body) if kind is not None else None
        if found is not None:
            await problem(422, found)(scope, receive, send)
            return
        await self._handle(
            target, scope, replay([{"type": "http.request", "body": body}], receive), send
        )

    async def _handle(self, target: Target, scope: Scope, receive: Receive, send: Send) -> None:
        _routed(target, scope)
        if self._handled is None:
            # The app's own handlers, as its exception middleware holds them (FastAPI passes
            # the ones for 500 and Exception to the server error middleware instead).
            handlers = {
                key: value
                for key, value in scope["app"].exception_handlers.items()
                if key not in (500, Exception)
            }
            self._handled = ExceptionMiddleware(
                _call_endpoint, handlers=handlers, debug=scope["app"].debug
            )
        await self._handled(scope, receive, send)


def _routed(target: Target, scope: Scope) -> None:
    """What the router puts in the scope: the route (the metrics label its template; a request
    refused before the router reached it is "unmatched" there and here) and its parameters."""
    scope["route"] = target.route
    scope["path_params"] = target.path_params


async def _call_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    target_route: APIRoute = scope["route"]
    endpoint: Callable[..., Awaitable[Response]] = target_route.endpoint
    params: dict[str, Any] = scope["path_params"]
    response = await endpoint(Request(scope, receive, send), **params)
    await response(scope, receive, send)
