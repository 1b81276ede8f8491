"""Clients that hold connections open without finishing a request are cut off: a request
line and headers must arrive within SERVER_HEADER_TIMEOUT_SECONDS (from connecting, or from
the previous answer), however slowly they trickle in; a head over SERVER_MAX_HEADER_BYTES is a
431; an idle kept connection closes after SERVER_KEEP_ALIVE_SECONDS. Proven on a gateway
process started as every service is (`python -m gateway`, shared.serving)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from shared import testing
from shared.testing import TEST_SECRET_KEY, delete_bus_names, wait_until
from tests.security.gateway_app import ROOT, unused_port

HEADER_TIMEOUT = 2.0
KEEP_ALIVE = 1
SLACK = 2.0  # a busy machine's scheduling, on top of the configured times
MAX_HEADER_BYTES = 8192


@pytest.fixture(scope="module")
async def served_gateway(identity_database: str) -> AsyncIterator[tuple[str, int]]:
    names = testing.test_names("gateway")
    port = unused_port()
    env = os.environ | {
        "DATABASE_URL": identity_database,
        "RABBITMQ_URL": names["rabbitmq_url"],
        "EVENTS_EXCHANGE": names["events_exchange"],
        "QUEUE_PREFIX": names["queue_prefix"],
        "SECRET_KEY": TEST_SECRET_KEY,
        "GATEWAY_PORT": str(port),
        "RUN_CONSUMERS": "false",
        "RUN_RELAY": "false",
        "SERVER_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "SERVER_KEEP_ALIVE_SECONDS": str(KEEP_ALIVE),
        "SERVER_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        async def ready() -> bool:
            assert process.poll() is None, "the gateway exited"
            try:
                async with httpx.AsyncClient(timeout=1) as client:
                    return (await client.get(f"{url}/ready")).status_code == 200
            except httpx.HTTPError:
                return False

        await wait_until(ready, timeout=60, interval=0.1)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        await delete_bus_names(names["rabbitmq_url"], names["events_exchange"], [])


async def closed_after(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, trickle: bytes | None
) -> tuple[float, bytes]:
    """Seconds until the server closes the connection (trickling `trickle` every 0.3 s
    meanwhile), and what it sent before closing."""
    started = time.monotonic()

    async def drip() -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while trickle is not None:
                await asyncio.sleep(0.3)
                writer.write(trickle)
                await writer.drain()

    dripping = asyncio.create_task(drip())
    try:
        answer = await asyncio.wait_for(reader.read(), HEADER_TIMEOUT + SLACK + 5)
    finally:
        dripping.cancel()
        writer.close()
    return time.monotonic() - started, answer


async def test_slow_and_silent_clients_are_cut_off_and_others_still_served(
    served_gateway: tuple[str, int],
) -> None:
    host, port = served_gateway
    slow, silent = [], []
    for _ in range(40):  # a request line and headers that never end
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        slow.append(closed_after(reader, writer, b"X-Slow: 1\r\n"))
    for _ in range(10):  # connected, never a byte
        reader, writer = await asyncio.open_connection(host, port)
        silent.append(closed_after(reader, writer, None))
    watched = [asyncio.create_task(c) for c in slow + silent]
    # Meanwhile an honest client is served.
    async with httpx.AsyncClient(timeout=5) as client:
        assert (await client.get(f"http://{host}:{port}/health")).status_code == 200
    results = await asyncio.gather(*watched)
    for seconds, answer in results[:40]:
        assert seconds < HEADER_TIMEOUT + SLACK, seconds
        assert answer.startswith(b"HTTP/1.1 408"), answer
    for seconds, answer in results[40:]:
        assert seconds < HEADER_TIMEOUT + SLACK, seconds
        assert answer == b""


async def test_a_head_too_large_is_a_431(served_gateway: tuple[str, int]) -> None:
    host, port = served_gateway
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    for _ in range(20):
        writer.write(b"X-Big: " + b"a" * 1000 + b"\r\n")
    await writer.drain()
    seconds, answer = await closed_after(reader, writer, None)
    assert answer.startswith(b"HTTP/1.1 431"), answer
    assert seconds < HEADER_TIMEOUT


async def test_an_idle_kept_connection_closes_after_the_keep_alive(
    served_gateway: tuple[str, int],
) -> None:
    host, port = served_gateway
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    length = int(
        next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[
            1
        ]
    )
    await reader.readexactly(length)
    seconds, answer = await closed_after(reader, writer, None)
    assert answer == b""
    assert seconds < KEEP_ALIVE + SLACK, seconds
