"""`/metrics` (traffic by route, login failures, backlogs) is no one's business but the
scraper's: on the public gateway and on every service's port, it needs `Authorization: Bearer
<METRICS_TOKEN>` (401 otherwise). `/health` and `/ready` stay open for the probes and say no
more than "ok" or "unavailable" per dependency."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import METRICS_TOKEN, SERVICES, System

READY_CHECKS = {"database", "broker", "consumers"}


async def test_metrics_need_the_token_on_every_port(security_system: System) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for service in SERVICES:
            url = f"{security_system.url(service)}/metrics"
            for headers in (
                {},
                {"Authorization": "Bearer wrong-token-of-enough-length"},
                {"Authorization": METRICS_TOKEN},  # not as a bearer token
                {"Authorization": f"Bearer {METRICS_TOKEN}x"},
            ):
                refused = await client.get(url, headers=headers)
                assert refused.status_code == 401, (service, headers, refused.text)
                assert "http_request" not in refused.text
                assert refused.json()["detail"]
            scraped = await client.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            assert scraped.status_code == 200, service
            assert "http_request_duration_seconds" in scraped.text


async def test_health_and_ready_answer_without_credentials_and_reveal_nothing(
    security_system: System,
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for service in SERVICES:
            health = await client.get(f"{security_system.url(service)}/health")
            assert health.status_code == 200
            assert health.json() == {"status": "ok"}
            ready = await client.get(f"{security_system.url(service)}/ready")
            assert ready.status_code == 200
            body = ready.json()
            assert set(body) == {"status", "checks"}, body
            assert body["status"] == "ok"
            assert set(body["checks"]) <= READY_CHECKS, body
            assert set(body["checks"].values()) <= {"ok", "unavailable"}, body
            for header in ("server", "x-powered-by"):
                assert "python" not in ready.headers.get(header, "").lower()
