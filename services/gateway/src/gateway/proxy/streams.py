"""Server-Sent Events through the gateway: streamed, not buffered, and bounded.

The ordinary forwarding path reads every answer whole, which is what makes it fast; an
event stream never ends, so the few stream routes go through here instead: a separate
connection pool (streams never starve ordinary requests of connections), no read timeout
short enough to cut an idle stream that the service keeps alive with comment lines, and the
upstream closed as soon as the client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Collection

import httpx
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from sse_starlette.sse import AppStatus
from starlette.types import Receive, Scope, Send

from gateway.settings import Settings
from shared import telemetry
from shared.web import problem

log = logging.getLogger(__name__)

STREAM_PATH = re.compile(r"^/api/v1/(public/conversations/[^/]+|conversations)/events/?$")
# EventSource cannot send headers: the owner stream takes the access token as a query
# parameter, read here and never forwarded (nor logged: access logs carry the path only).
OWNER_STREAM_PATH = re.compile(r"^/api/v1/conversations/events/?$")
ACCESS_TOKEN_PARAM = "access_token"


def is_stream(request: Request) -> bool:
    return request.method == "GET" and STREAM_PATH.match(request.url.path) is not None


def query_access_token(request: Request) -> str | None:
    if request.method != "GET" or not OWNER_STREAM_PATH.match(request.url.path):
        return None
    return request.query_params.get(ACCESS_TOKEN_PARAM) or None


class StreamForwarder:
    def __init__(
        self,
        settings: Settings,
        drop_response_headers: Collection[str],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.max_open = settings.stream_max_open
        self.max_per_address = settings.stream_max_per_address
        self.drop_response_headers = drop_response_headers
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(
                connect=2.0,
                read=settings.stream_idle_timeout_seconds,
                write=settings.upstream_timeout_seconds,
                pool=2.0,
            ),
            limits=httpx.Limits(max_connections=settings.stream_max_open),
            transport=transport,
        )
        telemetry.instrument_client(self.client)  # a client span per relayed stream
        self.open = 0
        self._per_address: dict[str, int] = defaultdict(int)

    async def close(self) -> None:
        await self.client.aclose()

    def _claim(self, address: str) -> JSONResponse | None:
        if self.open >= self.max_open:
            return problem(
                503, "Too many open event streams, retry shortly", headers={"Retry-After": "5"}
            )
        if self._per_address[address] >= self.max_per_address:
            return problem(
                429,
                f"At most {self.max_per_address} open event streams per client address",
                headers={"Retry-After": "5"},
            )
        self.open += 1
        self._per_address[address] += 1
        return None

    def _release(self, address: str) -> None:
        self.open -= 1
        self._per_address[address] -= 1
        if self._per_address[address] <= 0:
            del self._per_address[address]

    async def forward(
        self, request: Request, service: str, url: str, headers: dict[str, str]
    ) -> Response:
        address = request.client.host if request.client else "unknown"
        refused = self._claim(address)
        if refused is not None:
            return refused
        params = [(k, v) for k, v in request.query_params.multi_items() if k != ACCESS_TOKEN_PARAM]
        try:
            upstream = await self.client.send(
                self.client.build_request("GET", url, params=params, headers=headers),
                stream=True,
            )
        except httpx.TimeoutException:
            self._release(address)
            log.warning("upstream timeout", extra={"upstream": service})
            return problem(504, f"The {service} service did not answer in time")
        except httpx.TransportError as exc:
            self._release(address)
            log.warning("upstream unavailable: %s", exc, extra={"upstream": service})
            return problem(
                503,
                f"The {service} service is unavailable, try again shortly",
                headers={"Retry-After": "5"},
            )
        out_headers = {
            k: v for k, v in upstream.headers.items() if k.lower() not in self.drop_response_headers
        }
        if not upstream.headers.get("content-type", "").startswith("text/event-stream"):
            # A refusal (401, 404, 429...): an ordinary, finite answer.
            try:
                body = await upstream.aread()
            finally:
                await upstream.aclose()
                self._release(address)
            return Response(body, status_code=upstream.status_code, headers=out_headers)
        return _Relay(upstream, out_headers, lambda: self._release(address))


class _Relay(Response):
    """Copies the upstream's bytes as they come, until either side ends."""

    def __init__(
        self, upstream: httpx.Response, headers: dict[str, str], release: Callable[[], None]
    ) -> None:
        # No body and no Content-Length: the length is unknown, the server sends it chunked.
        self.status_code = upstream.status_code
        self.background = None
        self.init_headers(headers)
        self.upstream = upstream
        self.release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            gone = asyncio.create_task(_disconnected(receive))
            tasks = {gone, asyncio.create_task(self._pump(send)), asyncio.create_task(_exiting())}
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, OSError):
                        await task
            if gone.cancelled():  # the client is still there: end the body properly
                with contextlib.suppress(OSError):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await self.upstream.aclose()
            self.release()

    async def _pump(self, send: Send) -> None:
        try:
            async for chunk in self.upstream.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except (httpx.ReadTimeout, httpx.TransportError) as exc:
            # The service stopped (or went silent past its keep-alive): end the stream; the
            # browser reconnects with its last event id.
            log.info("event stream ended by upstream: %s", type(exc).__name__)


async def _exiting() -> None:
    """On SIGTERM uvicorn waits for open responses before it stops: end the relays then (the
    browser reconnects, with its last event id, to another gateway). sse-starlette, imported
    here, flags uvicorn's exit in `AppStatus`."""
    while not AppStatus.should_exit:  # noqa: ASYNC110 - a flag a signal handler sets
        await asyncio.sleep(0.5)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
