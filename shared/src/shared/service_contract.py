"""Tests every service shares: its contract with the gateway and with operators.

A service's test module imports them (`from shared.service_contract import *`); they use the
service's `client` fixture (the app running its real lifespan) and `service_name`.
"""

from __future__ import annotations

import uuid

import httpx

from shared.testing import TEST_SECRET_KEY, internal_headers

__all__ = [
    "test_health_answers_without_a_token",
    "test_ready_checks_database_broker_and_consumers",
    "test_requests_without_internal_token_are_refused",
    "test_token_for_another_service_is_refused",
    "test_token_signed_with_another_key_is_refused",
    "test_valid_internal_token_is_accepted",
]


async def test_health_answers_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_checks_database_broker_and_consumers(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "consumers": "ok"}


async def test_requests_without_internal_token_are_refused(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/openapi.json", "/api/v1/anything", "/api/v1/docs"):
        response = await client.get(path)
        assert response.status_code == 401, path
        assert "gateway" in response.json()["detail"]


async def test_token_for_another_service_is_refused(client: httpx.AsyncClient) -> None:
    headers = internal_headers(TEST_SECRET_KEY, "someone-else", uuid.uuid4())
    response = await client.get("/api/v1/openapi.json", headers=headers)
    assert response.status_code == 401


async def test_token_signed_with_another_key_is_refused(
    client: httpx.AsyncClient, service_name: str
) -> None:
    headers = internal_headers("not-the-secret", service_name, uuid.uuid4())
    response = await client.get("/api/v1/openapi.json", headers=headers)
    assert response.status_code == 401


async def test_valid_internal_token_is_accepted(
    client: httpx.AsyncClient, service_name: str
) -> None:
    headers = internal_headers(TEST_SECRET_KEY, service_name, uuid.uuid4())
    response = await client.get("/api/v1/openapi.json", headers=headers)
    assert response.status_code == 200
    assert response.headers["x-request-id"]
