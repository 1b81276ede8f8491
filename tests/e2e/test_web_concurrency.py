"""WEB_CONCURRENCY: one service served by uvicorn workers on one port, stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import httpx

from shared.db.migrations import drop_database, ensure_database, upgrade
from shared.testing import test_names as private_names

from .conftest import ROOT, delete_bus, free_port, system_env

GRACEFUL_SECONDS = 20  # uvicorn's timeout_graceful_shutdown in shared.serving.serve
STARTED = re.compile(r"Started server process \[(\d+)\]")


def _local() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_local", ROOT / "deploy" / "local.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def log_lines(path: Path) -> list[str]:
    messages = []
    for line in path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            messages.append(json.loads(line)["msg"])
    return messages


def test_per_service_web_concurrency_wins_over_the_global_one() -> None:
    local = _local()
    environ = {"WEB_CONCURRENCY": "3", "CONVERSATIONS_WEB_CONCURRENCY": "2", "PATH": "/bin"}
    assert local.service_env("conversations", environ)["WEB_CONCURRENCY"] == "2"
    assert local.service_env("gateway", environ)["WEB_CONCURRENCY"] == "3"
    assert local.service_env("gateway", environ)["PATH"] == "/bin"
    only_one = {"WORKSPACES_WEB_CONCURRENCY": "4"}
    assert local.service_env("workspaces", only_one)["WEB_CONCURRENCY"] == "4"
    assert "WEB_CONCURRENCY" not in local.service_env("connectors", only_one)
    assert local.web_concurrency("connectors", {}) is None


def test_two_workers_serve_one_port_and_sigterm_stops_the_whole_tree(tmp_path: Path) -> None:
    names = private_names("workers")
    port = free_port()
    # Only workspaces runs; the gateway's port just fills the suite's environment.
    env = system_env(names, {"workspaces": port, "gateway": free_port()}) | {
        "WEB_CONCURRENCY": "2",
        "LOG_FORMAT": "json",
        "DB_POOL_SIZE": "2",
    }
    log = tmp_path / "workspaces.log"
    asyncio.run(ensure_database(names["database_url"]))
    process: subprocess.Popen[bytes] | None = None
    try:
        upgrade(ROOT / "services" / "workspaces" / "alembic.ini", names["database_url"])
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "workspaces"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60  # two interpreters import the app on a busy machine
        ready = False
        while time.monotonic() < deadline and process.poll() is None:
            started = log_lines(log).count("Application startup complete.")
            with contextlib.suppress(httpx.HTTPError):
                ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200
            if ready and started == 2:
                break
            time.sleep(0.1)
        assert ready and started == 2, log.read_text()[-3000:]

        # The supervisor's workers (besides multiprocessing's resource tracker) are the two
        # processes that said they serve.
        workers = [c for c in children(process.pid) if "spawn_main" in cmdline(c)]
        serving = {int(m[1]) for line in log_lines(log) if (m := STARTED.search(line))}
        assert len(workers) == 2 and set(workers) == serving, (workers, serving)
        for _ in range(4):
            assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200

        tree = [process.pid, *children(process.pid)]
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=GRACEFUL_SECONDS) == 0
        assert time.monotonic() - began < GRACEFUL_SECONDS
        # The workers are joined by the supervisor; the resource tracker leaves on its own
        # once the supervisor's end of its pipe closes.
        settle = time.monotonic() + 5
        while [pid for pid in tree if running(pid)] and time.monotonic() < settle:
            time.sleep(0.05)
        assert not [pid for pid in tree if running(pid)], log.read_text()[-3000:]
        stopped = log_lines(log)
        assert stopped.count("Application shutdown complete.") == 2, stopped[-20:]
        with contextlib.suppress(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            raise AssertionError("the port still answers after SIGTERM")
    finally:
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        asyncio.run(delete_bus(names))
        asyncio.run(drop_database(names["database_url"]))
