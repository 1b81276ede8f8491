"""Load generator: run in its own process, so its CPU is not charged to the services.

    python bench/load.py < spec.json > result.json

A spec is a list of streams run concurrently, each either closed-loop (N connections, each
sending its next request when the previous answer arrives: measures throughput) or open-loop
(requests started on a fixed schedule whatever the answers: measures latency at a given
rate; latency counts from the scheduled time, so a stalled server cannot hide its queue).

The HTTP client is a minimal HTTP/1.1 keep-alive client on asyncio streams (uvloop), about
5 times cheaper per request than httpx; `"client": "httpx"` uses httpx instead. Either way
the generator reports its own CPU time, since on a 2-core machine it competes with the
services for the same cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import os
import resource
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

Request = tuple[str, str, dict[str, str], bytes]  # method, path, headers, body


# -- HTTP ------------------------------------------------------------------------------------


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = False

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.used = False

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, req: Request) -> tuple[int, bytes]:
        """One request; reconnects once when a kept-alive connection was closed idle."""
        for attempt in (0, 1):
            if self.writer is None:
                await self.open()
            reused = self.used
            try:
                return await self._exchange(req)
            except (ConnectionError, asyncio.IncompleteReadError, EmptyReply):
                self.close()
                if attempt or not reused:
                    raise
        raise AssertionError("unreachable")

    async def _exchange(self, req: Request) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        method, path, headers, body = req
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if body or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise EmptyReply()
        self.used = True
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readline()
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            data = b"".join(parts)
        else:
            data = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, data


class EmptyReply(ConnectionError):
    pass


class Pool:
    """Up to `size` connections; a request waits for a free one (that wait is measured)."""

    def __init__(self, base: str, size: int) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.idle: asyncio.Queue[Connection] = asyncio.Queue()
        for _ in range(size):
            self.idle.put_nowait(Connection(host, int(port)))

    async def request(self, req: Request) -> tuple[int, bytes]:
        conn = await self.idle.get()
        try:
            return await conn.request(req)
        except BaseException:
            conn.close()
            raise
        finally:
            self.idle.put_nowait(conn)

    def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait().close()


class HttpxPool:
    def __init__(self, base: str, size: int) -> None:
        import httpx

        self.client = httpx.AsyncClient(
            base_url=base,
            timeout=30,
            limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
        )

    async def request(self, req: Request) -> tuple[int, bytes]:
        method, path, headers, body = req
        response = await self.client.request(method, path, headers=headers, content=body)
        return response.status_code, response.content

    def close(self) -> None:
        pass


# -- what to send ----------------------------------------------------------------------------


def make_factory(spec: dict[str, Any]) -> Callable[[int], tuple[Request, dict[str, Any]]]:
    """`factory(i)` -> (request, fields recorded with its result)."""
    kind = spec["kind"]
    if kind == "static":
        requests = [
            (r["method"], r["path"], r.get("headers", {}), r.get("body", "").encode())
            for r in spec["requests"]
        ]
        ids = [r.get("id") for r in spec["requests"]]  # recorded with each result when given
        return lambda i: (requests[i % len(requests)], {"id": ids[i % len(ids)]})
    if kind == "whatsapp":
        return _whatsapp_factory(spec)
    if kind == "workspace_create":
        return _workspace_factory(spec)
    if kind == "service_create":
        return _service_factory(spec)
    raise ValueError(f"unknown request kind {kind!r}")


def _whatsapp_factory(spec: dict[str, Any]) -> Callable[[int], tuple[Request, dict[str, Any]]]:
    secret = spec["secret"].encode()
    prefix, phone, visitors = spec["prefix"], spec["phone_number_id"], spec["visitors"]
    offset = spec.get("offset", 0)

    def build(i: int) -> tuple[Request, dict[str, Any]]:
        n = offset + i
        sender = str(15550000000 + n % visitors)
        external_id = f"wamid.{prefix}.{n}"
        payload = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "bench",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550000000",
                                    "phone_number_id": phone,
                                },
                                "contacts": [
                                    {"wa_id": sender, "profile": {"name": f"Visitor {n}"}}
                                ],
                                "messages": [
                                    {
                                        "from": sender,
                                        "id": external_id,
                                        "timestamp": str(int(time.time())),
                                        "type": "text",
                                        "text": {"body": f"Hello, message {n}"},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
        return ("POST", spec["path"], headers, body), {"id": external_id}

    return build


def _workspace_factory(spec: dict[str, Any]) -> Callable[[int], tuple[Request, dict[str, Any]]]:
    from shared.tokens import Principal, audience_key, sign_internal_token

    tag = spec["prefix"]

    def build(i: int) -> tuple[Request, dict[str, Any]]:
        owner = uuid.uuid4()
        key = audience_key(spec["secret_key"], "workspaces")
        token = sign_internal_token(key, "workspaces", Principal(owner), 300)
        body = json.dumps(
            {"handle": f"{tag}-{i}", "name": f"Bench {i}", "timezone": "Europe/Madrid"}
        ).encode()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        return ("POST", "/api/v1/workspaces/", headers, body), {}

    return build


def _service_factory(spec: dict[str, Any]) -> Callable[[int], tuple[Request, dict[str, Any]]]:
    tokens = spec["tokens"]

    def build(i: int) -> tuple[Request, dict[str, Any]]:
        body = json.dumps(
            {
                "name": f"Service {i}",
                "description": "A benchmark service",
                "duration_minutes": 30,
                "price": "25.50",
                "currency": "EUR",
            }
        ).encode()
        headers = {
            "Authorization": f"Bearer {tokens[i % len(tokens)]}",
            "Content-Type": "application/json",
        }
        return ("POST", "/api/v1/workspace-services/", headers, body), {}

    return build


# -- running ---------------------------------------------------------------------------------


async def closed_loop(stream: dict[str, Any], pool: Any) -> dict[str, Any]:
    """`connections` workers, back to back, for `warmup` + `duration` seconds."""
    factory = make_factory(stream["request"])
    counter = itertools.count()
    start = time.perf_counter()
    measure_from = start + stream.get("warmup", 0.0)
    stop = measure_from + stream["duration"]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors: list[str] = []
    completed = 0

    async def worker() -> None:
        nonlocal completed
        while (now := time.perf_counter()) < stop:
            req, _ = factory(next(counter))
            try:
                status, _body = await pool.request(req)
            except Exception as exc:
                errors.append(repr(exc)[:200])
                await asyncio.sleep(0.01)
                continue
            done = time.perf_counter()
            completed += 1
            if now >= measure_from:
                latencies.append(done - now)
                statuses[str(status)] = statuses.get(str(status), 0) + 1

    await asyncio.gather(*(worker() for _ in range(stream["connections"])))
    return {
        "latencies": latencies,
        "statuses": statuses,
        "errors": errors[:20],
        "error_count": len(errors),
        "elapsed": stream["duration"],
        "completed": completed,  # warm-up included, for CPU per request
    }


async def open_loop(stream: dict[str, Any], pool: Any) -> dict[str, Any]:
    """`rate` requests per second for `duration` seconds, on schedule."""
    factory = make_factory(stream["request"])
    rate, duration = stream["rate"], stream["duration"]
    total = int(rate * duration)
    record = stream.get("record", False)
    latencies: list[float] = []
    lags: list[float] = []
    statuses: dict[str, int] = {}
    errors: list[str] = []
    records: list[list[Any]] = []
    tasks: set[asyncio.Task[None]] = set()
    wall0, perf0 = time.time(), time.perf_counter()

    async def one(i: int, scheduled: float) -> None:
        lags.append(time.perf_counter() - scheduled)
        req, fields = factory(i)
        try:
            status, _body = await pool.request(req)
        except Exception as exc:
            errors.append(repr(exc)[:200])
            status = 0
        done = time.perf_counter()
        if status:
            latencies.append(done - scheduled)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if record:
            records.append(
                [fields.get("id"), wall0 + (scheduled - perf0), status, done - scheduled]
            )

    for i in range(total):
        scheduled = perf0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    sent_in = time.perf_counter() - perf0
    while tasks:
        await asyncio.gather(*list(tasks))
    return {
        "latencies": latencies,
        "lag_p99_ms": round(sorted(lags)[int(len(lags) * 0.99)] * 1000, 2) if lags else 0,
        "statuses": statuses,
        "errors": errors[:20],
        "error_count": len(errors),
        "elapsed": time.perf_counter() - perf0,
        "sent_in": sent_in,
        "records": records,
    }


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    pools = []

    async def one(stream: dict[str, Any]) -> dict[str, Any]:
        cls = HttpxPool if spec.get("client") == "httpx" else Pool
        pool = cls(stream["base"], stream.get("connections", 64))
        pools.append(pool)
        runner = closed_loop if stream["mode"] == "closed" else open_loop
        return await runner(stream, pool)

    before = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter()
    results = await asyncio.gather(*(one(s) for s in spec["streams"]))
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_SELF)
    for pool in pools:
        with contextlib.suppress(Exception):
            pool.close()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "streams": {s["name"]: r for s, r in zip(spec["streams"], results, strict=True)},
        "generator_cpu_seconds": round(cpu, 3),
        "wall_seconds": round(wall, 3),
    }


def main() -> None:
    sys.path.insert(0, str(ROOT / "shared" / "src"))
    spec = json.load(sys.stdin)
    try:
        import uvloop

        result = uvloop.run(run(spec))
    except ImportError:
        result = asyncio.run(run(spec))
    json.dump(result, sys.stdout)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
