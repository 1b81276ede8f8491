"""Inputs that used to answer 500 or brick an account, and sessions that outlived a password."""

from __future__ import annotations

import httpx
import pytest

from gateway.proxy.routes import FORWARDED_PREFIXES

from .conftest import login

PROFILE_FIELDS = (
    "full_name",
    "business_name",
    "tagline",
    "bio",
    "phone",
    "website",
    "social_links",
    "setup_completed",
    "email",
)


@pytest.mark.parametrize("field", PROFILE_FIELDS)
async def test_null_for_any_profile_field_leaves_the_account_readable(
    client: httpx.AsyncClient, owner, superuser_headers, field: str
) -> None:
    patched = await client.patch("/api/v1/users/me", headers=owner["headers"], json={field: None})
    assert patched.status_code == 200, patched.text
    me = await client.get("/api/v1/users/me", headers=owner["headers"])
    assert me.status_code == 200, me.text
    admin_view = await client.get(f"/api/v1/users/{owner['id']}", headers=superuser_headers)
    assert admin_view.status_code == 200, admin_view.text
    if field == "social_links":
        assert me.json()["social_links"] == {}


async def test_superuser_nulls_on_every_user_field_leave_it_readable(
    client: httpx.AsyncClient, owner, superuser_headers
) -> None:
    fields = [*PROFILE_FIELDS, "password", "is_active", "is_superuser"]
    patched = await client.patch(
        f"/api/v1/users/{owner['id']}",
        headers=superuser_headers,
        json=dict.fromkeys(fields),
    )
    assert patched.status_code == 200, patched.text
    listed = await client.get("/api/v1/users/?limit=500", headers=superuser_headers)
    assert listed.status_code == 200, listed.text


CONTROL_PATHS = (
    "/api/v1/public/workspaces/%06abc",
    "/api/v1/workspaces/%00",
    "/api/v1/connectors/%1Fabc",
    "/api/v1/conversations/%7F",
    "/api/v1/users/%06abc",
    "/api/v1/password-recovery/a%00b@example.com",
    # Every forwarded prefix, whatever follows it.
    *(prefix.rstrip("/") + "/%06abc" for prefix in FORWARDED_PREFIXES),
    *(prefix.rstrip("/") + "/x/%C2%85" for prefix in FORWARDED_PREFIXES),  # a C1 control
)


@pytest.mark.parametrize("path", CONTROL_PATHS)
@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE", "PUT"])
async def test_control_characters_in_a_path_are_a_400_never_a_500(
    client: httpx.AsyncClient, owner, path: str, method: str
) -> None:
    response = await client.request(method, path, headers=owner["headers"])
    assert response.status_code == 400, response.text
    assert "control character" in response.json()["detail"]


async def test_control_characters_in_a_query_are_a_400(client: httpx.AsyncClient, owner) -> None:
    response = await client.get("/api/v1/workspaces/?q=a%00b", headers=owner["headers"])
    assert response.status_code == 400
    assert "query" in response.json()["detail"]


async def test_escaped_paths_are_forwarded_as_escaped(client: httpx.AsyncClient, owner) -> None:
    response = await client.get(
        "/api/v1/public/workspaces/caf%C3%A9%20bar%2Fbaz", headers=owner["headers"]
    )
    assert response.status_code == 200, response.text
    # The service decodes the same path the client sent; nothing was re-split at "%2F".
    assert response.json()["path"] == "/api/v1/public/workspaces/café bar/baz"


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "a\\u0000b"}',
        '{"name": "\\ud800"}',
        '{"nested": {"k\\u0000": 1}}',
        b'{"name": "lone \xed\xa0\x80 surrogate in UTF-8 bytes"}',
    ],
)
async def test_unstorable_json_text_is_a_422(
    client: httpx.AsyncClient, owner, body: str | bytes
) -> None:
    response = await client.patch(
        "/api/v1/users/me",
        headers={**owner["headers"], "content-type": "application/json"},
        content=body,
    )
    assert response.status_code == 422
    assert "NUL" in response.json()["detail"]


async def test_paired_surrogates_and_plain_text_pass(client: httpx.AsyncClient, owner) -> None:
    response = await client.patch(
        "/api/v1/users/me",
        headers={**owner["headers"], "content-type": "application/json"},
        content='{"tagline": "\\ud83d\\ude00 fine"}',
    )
    assert response.status_code == 200, response.text
    assert response.json()["tagline"] == "\U0001f600 fine"


async def _me(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/api/v1/users/me", headers=headers)).status_code


async def test_changing_the_password_ends_every_earlier_session(
    client: httpx.AsyncClient, owner
) -> None:
    other_session = await login(client, owner["email"], owner["password"])
    changed = await client.patch(
        "/api/v1/users/me/password",
        headers=owner["headers"],
        json={"current_password": owner["password"], "new_password": "a-new-password-9"},
    )
    assert changed.status_code == 200
    assert await _me(client, owner["headers"]) == 401
    assert await _me(client, other_session) == 401
    fresh = await login(client, owner["email"], "a-new-password-9")
    assert await _me(client, fresh) == 200


async def test_deactivation_ends_sessions_and_reactivation_does_not_revive_them(
    client: httpx.AsyncClient, owner, superuser_headers
) -> None:
    path = f"/api/v1/users/{owner['id']}"
    off = await client.patch(path, headers=superuser_headers, json={"is_active": False})
    assert off.status_code == 200
    assert await _me(client, owner["headers"]) == 401
    on = await client.patch(path, headers=superuser_headers, json={"is_active": True})
    assert on.status_code == 200
    assert await _me(client, owner["headers"]) == 401
    assert await _me(client, await login(client, owner["email"], owner["password"])) == 200


async def test_superuser_setting_a_password_ends_the_users_sessions(
    client: httpx.AsyncClient, owner, superuser_headers
) -> None:
    path = f"/api/v1/users/{owner['id']}"
    reset = await client.patch(path, headers=superuser_headers, json={"password": "set-by-admin-1"})
    assert reset.status_code == 200
    assert await _me(client, owner["headers"]) == 401
    assert await _me(client, superuser_headers) == 200


async def test_nul_in_a_login_form_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/login/access-token",
        content=b"username=a%00b@example.com&password=whatever",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 422
    assert "NUL" in response.json()["detail"]


def test_serve_believes_forwarded_headers_only_from_trusted_proxies(monkeypatch, app) -> None:
    from shared import serving, workspace_lookup

    seen: list[serving.ServerConfig] = []
    monkeypatch.setattr(serving, "run", seen.append)
    monkeypatch.setattr(workspace_lookup, "_installed", None)
    settings = app.state.runtime.settings.model_copy(update={"trusted_proxies": "10.0.0.0/8"})
    serving.serve("gateway.__main__:served_app", settings, 0)
    [config] = seen
    assert config.proxy_headers is True
    assert config.forwarded_allow_ips == "10.0.0.0/8"
    # And the bounds on slow clients (tests/security/test_slowloris.py proves them).
    assert config.http is serving.BoundedHeadProtocol
    assert config.header_timeout == settings.server_header_timeout_seconds
    assert config.limit_concurrency == settings.server_limit_concurrency
    assert config.timeout_keep_alive == settings.server_keep_alive_seconds
    assert workspace_lookup._installed is not None  # read-your-writes lookups are on
