"""`make run`'s supervisor: refuses to start without its servers, stops everything together."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import httpx

from shared.db.migrations import drop_database
from shared.testing import test_names as private_names

from .conftest import ROOT, SERVICES, create_and_migrate, delete_bus, free_port, system_env

RUNNER = ROOT / "deploy" / "local.py"


def test_check_names_the_unreachable_server_within_seconds() -> None:
    port = free_port()  # nothing listens there
    env = os.environ | {
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/base",
        "RABBITMQ_URL": f"amqp://guest:guest@127.0.0.1:{port}/",
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(RUNNER), "check"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert time.monotonic() - started < 15
    assert "PostgreSQL is not reachable" in result.stderr
    assert "RabbitMQ is not reachable" in result.stderr
    assert "pg_ctlcluster" in result.stderr
    assert "rabbitmq-server -detached" in result.stderr


def test_run_starts_all_four_and_sigterm_stops_them_together() -> None:
    names = private_names("runner")
    ports = {service: free_port() for service in SERVICES}
    env = system_env(names, ports)
    try:
        create_and_migrate(names["database_url"])
        runner = subprocess.Popen(
            [sys.executable, str(RUNNER), "run"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            banner = ""
            deadline = time.monotonic() + 120
            while "Press Ctrl-C" not in banner and time.monotonic() < deadline:
                line = runner.stdout.readline()
                if not line and runner.poll() is not None:
                    break
                banner += line
            assert f"http://127.0.0.1:{ports['gateway']}/api/v1/docs" in banner
            for service, port in ports.items():
                assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200, service

            runner.send_signal(signal.SIGTERM)
            assert runner.wait(timeout=60) == 0
        finally:
            if runner.poll() is None:
                runner.kill()
        for service, port in ports.items():
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                raise AssertionError(f"{service} still answers after SIGTERM")
            except httpx.TransportError:
                pass
    finally:
        asyncio.run(delete_bus(names))
        asyncio.run(drop_database(names["database_url"]))
