"""Event streams through the gateway: relayed as they come, bounded, closed with the client."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sse_starlette.sse import AppStatus

from gateway.main import create_app
from shared.testing import TEST_SECRET_KEY, wait_until
from shared.tokens import InvalidInternalToken, audience_key, verify_internal_token

from .conftest import Upstream, free_port

OWNER_STREAM = "/api/v1/conversations/events"


class Streams:
    open = 0


def sse_app(counter: type[Streams]) -> FastAPI:
    """A conversations stand-in: checks the internal token, streams ticks forever."""
    app = FastAPI()

    @app.get("/api/v1/{path:path}")
    async def events(request: Request, path: str):
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        try:
            principal = verify_internal_token(
                audience_key(TEST_SECRET_KEY, "conversations"), "conversations", token
            )
        except InvalidInternalToken:
            return JSONResponse({"detail": "no internal token"}, status_code=401)
        if "token" not in request.query_params and path.startswith("public/"):
            return JSONResponse({"detail": "A visitor token is required"}, status_code=401)
        idle = float(request.query_params.get("idle", "0"))

        async def ticks() -> AsyncIterator[bytes]:
            counter.open += 1
            try:
                first = {"user_id": str(principal.user_id), "query": str(request.url.query)}
                yield f"event: hello\ndata: {json.dumps(first)}\n\n".encode()
                if idle:  # only keep-alive comments for a while, then one event
                    for _ in range(int(idle / 0.2)):
                        await asyncio.sleep(0.2)
                        yield b": ping\n\n"
                    yield b"event: late\ndata: {}\n\n"
                n = 0
                while True:
                    await asyncio.sleep(0.05)
                    n += 1
                    yield f"event: tick\nid: {n}\ndata: {n}\n\n".encode()
            finally:
                counter.open -= 1

        return StreamingResponse(ticks(), media_type="text/event-stream")

    return app


@pytest.fixture(scope="module")
def sse_upstream() -> AsyncIterator[Upstream]:
    with Upstream(sse_app(Streams)) as upstream:
        yield upstream


@pytest.fixture(scope="module")
async def gateway_url(settings, database, client, sse_upstream) -> AsyncIterator[str]:
    """A gateway whose conversations service streams, behind a real server (ASGI transports
    in tests read whole bodies)."""
    app = create_app(
        settings.model_copy(
            update={"conversations_url": sse_upstream.url, "stream_max_per_address": 3}
        )
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    async with app.router.lifespan_context(app):
        task = asyncio.create_task(server.serve())
        await wait_until(lambda: asyncio.sleep(0, server.started or None), timeout=10)
        app.state.test_url = f"http://127.0.0.1:{port}"
        try:
            yield app
        finally:
            server.should_exit = True
            server.force_exit = True  # open streams must not hold the shutdown
            await asyncio.wait_for(task, 10)


@contextlib.asynccontextmanager
async def events(url: str, **kwargs) -> AsyncIterator[AsyncIterator[str]]:
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(5, read=5)) as http,
        http.stream("GET", url, **kwargs) as response,
    ):
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield response.aiter_lines()


async def next_data(lines: AsyncIterator[str], event: str) -> str:
    current = None
    async for line in lines:
        if line.startswith("event: "):
            current = line.removeprefix("event: ")
        elif line.startswith("data: ") and current == event:
            return line.removeprefix("data: ")
    raise EOFError


async def test_events_arrive_through_the_gateway_while_the_stream_is_still_open(
    gateway_url, owner
) -> None:
    base = gateway_url.state.test_url
    async with events(base + OWNER_STREAM, headers=owner["headers"]) as lines:
        hello = json.loads(await asyncio.wait_for(next_data(lines, "hello"), 2))
        assert hello["user_id"] == owner["id"]
        ticks = [await asyncio.wait_for(next_data(lines, "tick"), 2) for _ in range(3)]
        assert [int(t) for t in ticks] == sorted(int(t) for t in ticks)


async def test_owner_stream_takes_the_access_token_as_a_query_parameter_and_keeps_it(
    gateway_url, owner
) -> None:
    base = gateway_url.state.test_url
    token = owner["headers"]["Authorization"].removeprefix("Bearer ")
    async with events(base + OWNER_STREAM, params={"access_token": token, "x": "1"}) as lines:
        hello = json.loads(await asyncio.wait_for(next_data(lines, "hello"), 2))
    assert hello["user_id"] == owner["id"]
    assert hello["query"] == "x=1"  # the token itself never reaches the service
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        elsewhere = await http.get("/api/v1/conversations/", params={"access_token": token})
        forged = await http.get(OWNER_STREAM, params={"access_token": "not.a.token"})
    assert elsewhere.status_code == 401  # only the stream route reads it
    assert forged.status_code == 401


async def test_a_refusal_from_the_service_is_forwarded_as_an_ordinary_answer(
    gateway_url,
) -> None:
    base = gateway_url.state.test_url
    async with httpx.AsyncClient(timeout=5) as http:
        refused = await http.get(base + "/api/v1/public/conversations/abc/events")
    assert refused.status_code == 401
    assert refused.json() == {"detail": "A visitor token is required"}
    assert gateway_url.state.forwarder.streams.open == 0


async def test_the_upstream_stream_closes_when_the_client_goes_away(gateway_url, owner) -> None:
    base = gateway_url.state.test_url
    before = Streams.open
    async with events(base + OWNER_STREAM, headers=owner["headers"]) as lines:
        await asyncio.wait_for(next_data(lines, "tick"), 2)
        assert Streams.open == before + 1
    await wait_until(lambda: asyncio.sleep(0, Streams.open == before or None), timeout=5)
    await wait_until(
        lambda: asyncio.sleep(0, gateway_url.state.forwarder.streams.open == 0 or None), timeout=5
    )


async def test_streams_end_when_the_gateway_is_told_to_shut_down(gateway_url, owner) -> None:
    base = gateway_url.state.test_url
    async with events(base + OWNER_STREAM, headers=owner["headers"]) as lines:
        await asyncio.wait_for(next_data(lines, "tick"), 2)
        AppStatus.should_exit = True  # what uvicorn's SIGTERM handler sets
        try:
            with pytest.raises(EOFError):
                await asyncio.wait_for(next_data(lines, "never"), 3)
        finally:
            AppStatus.should_exit = False
    await wait_until(
        lambda: asyncio.sleep(0, gateway_url.state.forwarder.streams.open == 0 or None), timeout=5
    )


async def test_a_stream_quiet_but_for_keepalives_outlives_the_upstream_timeout(
    gateway_url, owner, settings
) -> None:
    base = gateway_url.state.test_url
    idle = settings.upstream_timeout_seconds * 2
    async with events(
        base + OWNER_STREAM, params={"idle": idle}, headers=owner["headers"]
    ) as lines:
        await asyncio.wait_for(next_data(lines, "late"), idle + 3)


async def test_streams_beyond_the_limits_get_429_per_address_and_503_in_all(
    gateway_url, owner
) -> None:
    base = gateway_url.state.test_url
    streams = gateway_url.state.forwarder.streams
    async with contextlib.AsyncExitStack() as stack:
        held = [  # kept referenced: a collected line iterator closes its stream
            await stack.enter_async_context(events(base + OWNER_STREAM, headers=owner["headers"]))
            for _ in range(streams.max_per_address)
        ]
        for lines in held:
            await asyncio.wait_for(next_data(lines, "hello"), 2)
        async with httpx.AsyncClient(timeout=5) as http:
            over = await http.get(base + OWNER_STREAM, headers=owner["headers"])
            assert over.status_code == 429 and over.headers["retry-after"]
            saved, streams.max_open = streams.max_open, streams.open
            try:
                full = await http.get(base + OWNER_STREAM, headers=owner["headers"])
            finally:
                streams.max_open = saved
            assert full.status_code == 503 and "retry" in full.json()["detail"]
            # Ordinary requests are not affected by open streams.
            normal = await http.get(base + "/api/v1/workspaces/me", headers=owner["headers"])
            assert normal.status_code == 200
