"""A session revoked through one gateway stops working on every gateway within seconds."""

from __future__ import annotations

import httpx

from shared.testing import served_client, wait_until
from tests.e2e.conftest import SUPERUSER, SUPERUSER_PASSWORD, signup
from tests.security.conftest import SECOND_GATEWAY_PROXY

CACHE_SECONDS = 5  # gateway CallerCache ttl


async def _login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/login/access-token", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _revoked_on(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    async def refused() -> bool:
        return (await client.get("/api/v1/users/me", headers=headers)).status_code == 401

    await wait_until(refused, timeout=CACHE_SECONDS + 3, interval=0.25)


async def test_password_change_on_one_gateway_ends_sessions_on_the_other(
    gw: httpx.AsyncClient, second_gateway: str
) -> None:
    owner = await signup(gw, "sess")
    async with served_client(second_gateway) as other:
        assert (await other.get("/api/v1/users/me", headers=owner["headers"])).status_code == 200
        changed = await gw.patch(
            "/api/v1/users/me/password",
            headers=owner["headers"],
            json={"current_password": "e2e-password-123", "new_password": "e2e-password-456"},
        )
        assert changed.status_code == 200
        await _revoked_on(gw, owner["headers"])
        await _revoked_on(other, owner["headers"])
        fresh = await _login(other, owner["email"], "e2e-password-456")
        assert (await gw.get("/api/v1/users/me", headers=fresh)).status_code == 200


async def test_deactivating_or_deleting_a_user_ends_sessions_everywhere(
    gw: httpx.AsyncClient, second_gateway: str
) -> None:
    admin = await _login(gw, SUPERUSER, SUPERUSER_PASSWORD)
    deactivated, deleted = await signup(gw, "off"), await signup(gw, "gone")
    async with served_client(second_gateway) as other:
        for user in (deactivated, deleted):
            assert (await other.get("/api/v1/users/me", headers=user["headers"])).status_code == 200
        off = await gw.patch(
            f"/api/v1/users/{deactivated['id']}", headers=admin, json={"is_active": False}
        )
        assert off.status_code == 200
        gone = await gw.delete(f"/api/v1/users/{deleted['id']}", headers=admin)
        assert gone.status_code == 200
        for user in (deactivated, deleted):
            await _revoked_on(other, user["headers"])


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(second_gateway: str) -> None:
    # The second gateway trusts only SECOND_GATEWAY_PROXY; we reach it from loopback, so
    # our X-Forwarded-For must not change the address its login throttle counts.
    assert SECOND_GATEWAY_PROXY != "127.0.0.1"
    async with served_client(second_gateway) as other:
        email = "nobody-untrusted@example.com"
        statuses = []
        for i in range(6):  # LOGIN_MAX_FAILURES=5 for one account at one address
            response = await other.post(
                "/api/v1/login/access-token",
                data={"username": email, "password": "wrong-password"},
                headers={"X-Forwarded-For": f"203.0.113.{i + 1}"},
            )
            statuses.append(response.status_code)
    # Had each spoofed address counted separately, none would be throttled.
    assert statuses[-1] == 429, statuses
