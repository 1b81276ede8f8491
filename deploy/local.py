"""Run the whole system on this machine: `make run` calls this.

    python deploy/local.py check   # are Postgres and RabbitMQ reachable? (exit 1 if not)
    python deploy/local.py run     # check, then start the four services and supervise them

The four services start as child processes on their ports (8000-8003 unless overridden by
GATEWAY_PORT, WORKSPACES_PORT, CONNECTORS_PORT, CONVERSATIONS_PORT). Ctrl-C or SIGTERM stops
them all together (each drains what it is doing); if one exits, the others are stopped too.

WEB_CONCURRENCY=N serves every service with N uvicorn workers on its port, and
<SERVICE>_WEB_CONCURRENCY (e.g. CONVERSATIONS_WEB_CONCURRENCY=2) one service. A service with
workers is uvicorn's supervisor: it is healthy once a worker answers, SIGTERM to it stops all
its workers, and a kill takes its whole process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import aio_pika
import asyncpg
from sqlalchemy.engine import make_url

from shared.settings import ServiceSettings, plain_database_url

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {
    "workspaces": ("WORKSPACES_PORT", 8001),
    "connectors": ("CONNECTORS_PORT", 8002),
    "conversations": ("CONVERSATIONS_PORT", 8003),
    "gateway": ("GATEWAY_PORT", 8000),
}
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
MQ_START = "rabbitmq-server -detached && rabbitmqctl await_startup"


async def _check_postgres(url: str) -> str | None:
    parsed = make_url(url)
    admin = plain_database_url(parsed.set(database="postgres").render_as_string(False))
    try:
        conn = await asyncpg.connect(admin, timeout=3)
    except Exception as exc:
        where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
        return (
            f"PostgreSQL is not reachable at {where} ({exc.__class__.__name__}: {exc}).\n"
            f"  Start it with: {PG_START}\n  or point DATABASE_URL at a running server."
        )
    await conn.close()
    return None


async def _check_rabbitmq(url: str) -> str | None:
    try:
        connection = await asyncio.wait_for(aio_pika.connect(url, timeout=3), 4)
    except Exception as exc:
        shown = make_url(url.replace("amqp://", "postgresql://", 1))
        where = f"{shown.host or 'localhost'}:{shown.port or 5672}"
        return (
            f"RabbitMQ is not reachable at {where} ({exc.__class__.__name__}: {exc}).\n"
            f"  Start it with: {MQ_START}\n"
            "  (if the node runs with its app stopped: rabbitmqctl start_app)\n"
            "  or point RABBITMQ_URL at a running broker."
        )
    await connection.close()
    return None


def check() -> int:
    settings = ServiceSettings()

    async def both() -> list[str | None]:
        return list(
            await asyncio.gather(
                _check_postgres(settings.database_url), _check_rabbitmq(settings.rabbitmq_url)
            )
        )

    problems = [p for p in asyncio.run(both()) if p]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def web_concurrency(service: str, environ: Mapping[str, str]) -> str | None:
    """Worker processes for one service: `<SERVICE>_WEB_CONCURRENCY`, else `WEB_CONCURRENCY`,
    else None (the service's own settings decide: `.env`, or one)."""
    return environ.get(f"{service.upper()}_WEB_CONCURRENCY") or environ.get("WEB_CONCURRENCY")


def service_env(service: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment one service's process starts with."""
    workers = web_concurrency(service, environ)
    return dict(environ) | ({"WEB_CONCURRENCY": workers} if workers else {})


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def _workers(service: str) -> str:
    workers = web_concurrency(service, os.environ)
    return f" ({workers} workers)" if workers and workers != "1" else ""


def run() -> int:
    if check():
        return 1
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    parent = os.getppid()  # `make run` killed with SIGTERM does not pass the signal on
    for name in SERVICES:
        children[name] = subprocess.Popen(
            [sys.executable, "-m", name],
            cwd=ROOT,
            env=service_env(name, os.environ),
            start_new_session=True,
        )
    ports = {name: int(os.environ.get(var, default)) for name, (var, default) in SERVICES.items()}
    deadline = time.monotonic() + 60
    pending = set(SERVICES)
    while pending and not stopping and time.monotonic() < deadline:
        pending = {n for n in pending if not _healthy(ports[n])}
        if any(p.poll() is not None for p in children.values()):
            break
        time.sleep(0.2)
    if not pending:
        gateway = ports["gateway"]
        print(
            "\nBase Platform is running.\n"
            f"  API:      http://127.0.0.1:{gateway}/api/v1{_workers('gateway')}\n"
            f"  API docs: http://127.0.0.1:{gateway}/api/v1/docs\n"
            f"  Health:   http://127.0.0.1:{gateway}/ready\n"
            "  Services: "
            + ", ".join(f"{n} :{ports[n]}{_workers(n)}" for n in SERVICES if n != "gateway")
            + "\nPress Ctrl-C to stop everything.\n",
            flush=True,
        )
    while not stopping:
        if os.getppid() != parent:
            print("parent process exited; stopping", file=sys.stderr)
            break
        exited = [n for n, p in children.items() if p.poll() is not None]
        if exited:
            print(f"{', '.join(exited)} exited; stopping the others", file=sys.stderr)
            break
        if pending and time.monotonic() > deadline:
            print(f"{', '.join(sorted(pending))} did not become healthy", file=sys.stderr)
            break
        time.sleep(0.2)
    for process in children.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for name, process in children.items():
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in 30 s; killing it", file=sys.stderr)
            # Its own session: the group holds the service and any workers it spawned.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    clean = stopping and all(p.returncode in (0, -signal.SIGTERM) for p in children.values())
    return 0 if clean else 1


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "run"
    sys.exit({"check": check, "run": run}[command]())
