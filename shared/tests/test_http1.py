"""The keep-alive client the gateway forwards with, against a real uvicorn server and raw
asyncio servers that misbehave on purpose (close idle connections, stall, cut answers)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from shared import http1
from shared.testing import LoopbackServer

app = FastAPI()
peers: set[tuple[str, int]] = set()


@app.api_route("/echo", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def echo(request: Request) -> JSONResponse:
    assert request.client is not None
    peers.add((request.client.host, request.client.port))
    return JSONResponse(
        {
            "method": request.method,
            "query": request.url.query,
            "body": (await request.body()).decode(),
            "x_test": request.headers.getlist("x-test"),
            "content_length": request.headers.get("content-length"),
        },
        headers={"x-answer": "yes"},
    )


@app.get("/cookies")
async def cookies() -> Response:
    response = Response(status_code=200)
    response.set_cookie("a", "1")
    response.set_cookie("b", "2")
    return response


@app.get("/chunked")
async def chunked() -> StreamingResponse:
    async def parts() -> AsyncIterator[bytes]:
        for i in range(50):
            yield f"part {i};".encode()

    return StreamingResponse(parts(), media_type="text/plain")


@app.delete("/empty")
async def empty() -> Response:
    return Response(status_code=204)


@app.get("/slow")
async def slow() -> Response:
    await asyncio.sleep(2)
    return Response(b"late")


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    running = LoopbackServer(app, "echo server").start()
    yield running
    running.stop()


@contextlib.asynccontextmanager
async def pooled(server: LoopbackServer, **kw: float) -> AsyncIterator[http1.Pool]:
    host, port = server.url.removeprefix("http://").split(":")
    pool = http1.Pool(host, int(port), **kw)  # type: ignore[arg-type]
    try:
        yield pool
    finally:
        await pool.close()


async def test_a_request_and_its_answer_pass_unchanged(server: LoopbackServer) -> None:
    async with pooled(server) as pool:
        reply = await pool.request(
            "POST",
            "/echo?x=1&x=2&q=a%20b",
            [("x-test", "one"), ("x-test", "two"), ("content-type", "application/json")],
            b'{"name":"Acme"}',
        )
        assert reply.status == 200
        assert ("x-answer", "yes") in reply.headers
        got = json.loads(reply.body)
        assert got == {
            "method": "POST",
            "query": "x=1&x=2&q=a%20b",
            "body": '{"name":"Acme"}',
            "x_test": ["one", "two"],
            "content_length": "15",
        }
        # A POST without a body still says so; a GET without one sends no length.
        empty = json.loads((await pool.request("PATCH", "/echo")).body)
        assert empty["content_length"] == "0"
        get = json.loads((await pool.request("GET", "/echo")).body)
        assert get["content_length"] is None


def test_it_runs_on_uvloop_as_the_services_do(server: LoopbackServer) -> None:
    import uvloop

    async def twice() -> list[int]:
        async with pooled(server) as pool:
            return [(await pool.request("GET", "/echo")).status for _ in range(2)]

    assert uvloop.run(twice()) == [200, 200]


async def test_repeated_answer_headers_and_bodiless_answers(server: LoopbackServer) -> None:
    async with pooled(server) as pool:
        reply = await pool.request("GET", "/cookies")
        assert [v for k, v in reply.headers if k.lower() == "set-cookie"] == [
            "a=1; Path=/; SameSite=lax",
            "b=2; Path=/; SameSite=lax",
        ]
        none = await pool.request("DELETE", "/empty")
        assert (none.status, none.body) == (204, b"")
        # The connection is still good after a bodiless answer.
        assert (await pool.request("GET", "/echo")).status == 200


async def test_a_chunked_answer_is_read_whole(server: LoopbackServer) -> None:
    async with pooled(server) as pool:
        reply = await pool.request("GET", "/chunked")
        assert reply.body == b"".join(f"part {i};".encode() for i in range(50))


async def test_connections_are_kept_and_bounded(server: LoopbackServer) -> None:
    peers.clear()
    async with pooled(server, max_connections=4) as pool:
        for _ in range(5):
            assert (await pool.request("GET", "/echo")).status == 200
        assert len(peers) == 1, "sequential requests reuse one connection"
        peers.clear()
        replies = await asyncio.gather(*(pool.request("GET", "/echo") for _ in range(60)))
        assert {r.status for r in replies} == {200}
        assert 1 <= len(peers) <= 4, peers


async def test_a_slow_answer_times_out_and_its_connection_is_dropped(
    server: LoopbackServer,
) -> None:
    peers.clear()
    async with pooled(server, timeout=0.3) as pool:
        with pytest.raises(http1.UpstreamTimeout):
            await pool.request("GET", "/slow")
        assert not pool._idle, "a connection with an answer still coming is never reused"
        assert (await pool.request("GET", "/echo")).status == 200


async def test_waiting_for_a_free_connection_counts_against_the_timeout(
    server: LoopbackServer,
) -> None:
    async with pooled(server, timeout=0.3, max_connections=1) as pool:
        # Holds the only slot for its 2 s (its own timeout is longer).
        slow = asyncio.create_task(pool.request("GET", "/slow", timeout=5))
        await asyncio.sleep(0.05)
        started = asyncio.get_running_loop().time()
        with pytest.raises(http1.UpstreamTimeout):
            await pool.request("GET", "/echo")
        assert asyncio.get_running_loop().time() - started < 0.5
        assert (await slow).body == b"late"


async def test_a_refused_connection_is_unavailable() -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pool = http1.Pool("127.0.0.1", port)
    with pytest.raises(http1.UpstreamUnavailable, match="could not connect"):
        await pool.request("GET", "/")


class RawServer:
    """An asyncio server answering each request with `answer` (closing after it when
    `close_after`), or closing unanswered once a connection had its `answers_per_connection`."""

    def __init__(
        self, answer: bytes, close_after: bool, answers_per_connection: int | None = None
    ) -> None:
        self.answer, self.close_after = answer, close_after
        self.limit = answers_per_connection  # then close on the next request, unanswered
        self.connections = 0
        self.requests = 0
        self.methods: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        answered = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.methods.append(head.split(b" ", 1)[0])
                self.requests += 1
                if self.limit is not None and answered >= self.limit:
                    break
                answered += 1
                writer.write(self.answer)
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    async def __aenter__(self) -> http1.Pool:
        """Serve, and give a client pool pointed at it (closed with the server)."""
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.pool = http1.Pool("127.0.0.1", int(self.server.sockets[0].getsockname()[1]))
        return self.pool

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        await self.pool.close()
        self.server.close()


async def test_a_kept_connection_closed_while_idle_is_replaced() -> None:
    # Answers as keep-alive, then closes anyway (as an upstream's idle timeout does).
    raw = RawServer(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", close_after=True)
    async with raw as pool:
        first = await pool.request("GET", "/")
        await asyncio.sleep(0.05)  # the server's close arrives while the connection idles
        second = await pool.request("GET", "/")
    assert (first.body, second.body) == (b"ok", b"ok")
    assert (raw.connections, raw.requests) == (2, 2), "each request was sent exactly once"


async def test_an_answer_cut_short_is_an_error_and_not_sent_again() -> None:
    raw = RawServer(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial", close_after=True)
    async with raw as pool:
        with pytest.raises(http1.UpstreamUnavailable, match="closed before the answer"):
            await pool.request("GET", "/")
    assert raw.requests == 1


async def test_an_unreadable_answer_is_an_error() -> None:
    raw = RawServer(b"NOT HTTP AT ALL\r\n\r\n", close_after=False)
    async with raw as pool:
        with pytest.raises(http1.UpstreamUnavailable, match="unreadable"):
            await pool.request("GET", "/")


async def test_an_answer_that_asks_to_close_is_not_reused() -> None:
    raw = RawServer(
        b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok", close_after=True
    )
    async with raw as pool:
        await pool.request("GET", "/")
        assert not pool._idle
        await pool.request("GET", "/")
    assert (raw.connections, raw.requests) == (2, 2)


async def test_a_kept_connection_closed_as_the_request_goes_is_retried_once() -> None:
    raw = RawServer(
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        close_after=False,
        answers_per_connection=1,
    )
    async with raw as pool:
        await pool.request("GET", "/")
        reply = await pool.request("GET", "/")  # the kept connection closes unanswered
    assert reply.body == b"ok"
    assert raw.connections == 2, "retried on a new connection"


async def test_a_fresh_connection_closed_unanswered_is_not_retried() -> None:
    raw = RawServer(b"", close_after=False, answers_per_connection=0)  # close at once
    async with raw as pool:
        with pytest.raises(http1.UpstreamUnavailable):
            await pool.request("GET", "/")
    assert raw.connections == 1


async def test_a_post_on_a_kept_connection_closed_unanswered_is_not_sent_again() -> None:
    # The upstream may have applied it before the connection went: only idempotent methods
    # are resent (RFC 9112 §9.3.1).
    raw = RawServer(
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        close_after=False,
        answers_per_connection=1,
    )
    async with raw as pool:
        await pool.request("GET", "/")
        with pytest.raises(http1.UpstreamOutcomeUnknown):
            await pool.request("POST", "/", body=b"{}")
        await pool.request("GET", "/")  # answered on a new connection
        await pool.request("DELETE", "/")  # the kept one closes unanswered: sent again
    assert raw.methods == [b"GET", b"POST", b"GET", b"DELETE", b"DELETE"]
    assert raw.connections == 3
