"""One private system (the four services plus a second gateway) for the attacks we must
survive. The second gateway shares the identity database, so a session revoked through one
must stop working on the other; it trusts forwarded headers from nobody on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from shared.testing import served_client
from tests.e2e.conftest import ROOT, System, fakes, free_port, private_system, signup

SECOND_GATEWAY_PROXY = "192.0.2.250"  # trusted by the second gateway; never our peer


# Provider webhooks configured, so the fuzzer meets their signature checks rather than the
# deliberate 503 "not configured".
EXTRA_ENV = {
    "CALENDLY_WEBHOOK_SIGNING_KEY": "security-calendly-signing-key",
    "SQUARE_WEBHOOK_SIGNATURE_KEY": "security-square-signature-key",
}


@pytest.fixture(scope="session")
def providers() -> Iterator[Any]:
    """Loopback Graph API and Twilio fakes: channel accounts are verified against them."""
    running = fakes.start_providers()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def security_system(providers: Any) -> Iterator[System]:
    saved = {k: os.environ.get(k) for k in EXTRA_ENV}
    os.environ.update(EXTRA_ENV)  # private_system builds its environment from os.environ
    provider_env = {
        "GRAPH_API_BASE_URL": providers.graph.url,
        "TWILIO_API_BASE_URL": providers.twilio.url,
        # A rotated integrator secret must stop at once here, not after the gateway's cache.
        "INBOUND_SECRET_CACHE_SECONDS": "0",
    }
    try:
        with private_system("security", provider_env) as system:
            yield system
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def second_gateway(security_system: System) -> Iterator[str]:
    port = free_port()
    env = security_system.env | {"GATEWAY_PORT": str(port), "TRUSTED_PROXIES": SECOND_GATEWAY_PROXY}
    log = open(security_system.logs / "gateway-2.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError("second gateway exited")
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("second gateway not ready")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
async def gw(security_system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with served_client(security_system.gateway) as client:
        yield client


@pytest.fixture(scope="session")
async def openapi(gw: httpx.AsyncClient) -> dict:
    response = await gw.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


@pytest.fixture
async def owner(gw: httpx.AsyncClient) -> dict[str, object]:
    return await signup(gw, "sec")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The first test here also waits for a whole system (and a second gateway) to start,
    # which on a busy machine takes longer than the default per-test timeout.
    for item in items:
        if "tests/security/" in str(item.path) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(400))


@pytest.fixture(scope="session")
async def identity_database() -> AsyncIterator[str]:
    """A private, migrated identity database for gateways run in process
    (tests/security/gateway_app.py)."""
    from shared.testing import migrated_database, test_names
    from tests.security.gateway_app import GATEWAY_INI

    async with migrated_database(test_names("gateway")["database_url"], [GATEWAY_INI]) as url:
        yield url
