"""Server-side request forgery through an integrator's `callback_url`, on a system with the
production setting (CALLBACK_ALLOW_LOOPBACK_HTTP unset): every spelling of an internal
address is refused when the account is created or changed, loopback included, with a 422
that names the field; nothing is stored. (What a name resolves to is judged again at every
send: services/conversations/tests/test_callback_security.py.)"""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.security.objects import make_owner

API = "/api/v1"
INTERNAL = [
    "https://2130706433:8291/cb",
    "https://0x7f000001/cb",
    "https://127.1/cb",
    "https://0/cb",
    "https://127\u30020\u30020\u30021/cb",  # ideographic full stops
    "https://10.1/cb",
    "https://100.64.0.1/cb",
    "https://169.254.169.254/latest/meta-data",
    "https://[2002:7f00:1::]/cb",
    "https://[::ffff:169.254.169.254]/cb",
    "https://localhost/cb",
    "https://conversations:8003/api/v1/conversations/",  # a service by its cluster name
    "https://rabbitmq.base-platform.svc:15672/api/overview",
]


async def create(gw: httpx.AsyncClient, owner: dict, url: str) -> httpx.Response:
    return await gw.post(
        f"{API}/channel-accounts/",
        headers=owner["headers"],
        json={
            "channel": "chatgpt",
            "account_id": f"gpt-{uuid.uuid4().hex[:10]}",
            "credentials": {"callback_url": url},
        },
    )


@pytest.fixture(scope="module")
async def ssrf_owner(gw: httpx.AsyncClient) -> dict:
    return await make_owner(gw, "ssrf")


@pytest.mark.parametrize("url", INTERNAL)
async def test_an_internal_callback_url_is_refused_and_nothing_is_stored(
    gw, ssrf_owner, url
) -> None:
    before = (await gw.get(f"{API}/channel-accounts/", headers=ssrf_owner["headers"])).json()
    refused = await create(gw, ssrf_owner, url)
    assert refused.status_code == 422, refused.text
    assert "callback_url" in str(refused.json()["detail"])
    after = (await gw.get(f"{API}/channel-accounts/", headers=ssrf_owner["headers"])).json()
    assert after["count"] == before["count"]


async def test_loopback_http_is_refused_without_the_test_setting(gw, ssrf_owner, providers):
    # The loopback fake the tests reach with CALLBACK_ALLOW_LOOPBACK_HTTP=true.
    refused = await create(gw, ssrf_owner, f"{providers.callback.url}/replies")
    assert refused.status_code == 422, refused.text


async def test_a_public_callback_cannot_be_changed_to_an_internal_one(gw, ssrf_owner) -> None:
    created = await create(gw, ssrf_owner, "https://hooks.integrator.example/replies")
    assert created.status_code == 201, created.text
    account = created.json()
    for url in INTERNAL[:6]:
        changed = await gw.patch(
            f"{API}/channel-accounts/{account['id']}",
            headers=ssrf_owner["headers"],
            json={"credentials": {"callback_url": url}},
        )
        assert changed.status_code == 422, (url, changed.text)
    read = await gw.get(f"{API}/channel-accounts/{account['id']}", headers=ssrf_owner["headers"])
    assert read.json()["credentials"]["callback_url"] == "https://hooks.integrator.example/replies"
