"""Integrator callbacks reach public addresses only: the URL is judged when saved (every
notation of an address, IDNA, internal names), every address a name resolves to is judged
again when a reply is sent, the connection goes to the address that was judged, and nothing
is followed elsewhere. Loopback only where CALLBACK_ALLOW_LOOPBACK_HTTP says so (tests)."""

import asyncio
import itertools
import time
from uuid import UUID

import httpx
import pytest
from pydantic import ValidationError

from conversations.api.ratelimit import SlidingWindowLimiter
from conversations.delivery.guard import (
    AddressGuard,
    RefusedAddress,
    guarded_client,
    system_resolver,
)
from conversations.domain.credentials import parse_credentials
from shared.crypto import Vault

from .test_replies import API, connect, reply, settled, visitor_writes

REFUSED = [
    "https://2130706433:8291/cb",  # 127.0.0.1 as one decimal number
    "https://0x7f000001/cb",  # ... in hex
    "https://0177.0.0.1/cb",  # ... in octal
    "https://127.1/cb",  # ... short form
    "https://0/cb",  # 0.0.0.0, which reaches this host
    "https://127。0。0。1/cb",  # ideographic full stops
    "https://\uff11\uff12\uff17.0.0.1/cb",  # full-width digits
    "https://10.1/cb",  # 10.0.0.1
    "https://100.64.0.1/cb",  # shared address space (carrier NAT, some clusters)
    "https://169.254.169.254/latest/meta-data",  # cloud metadata
    "https://224.0.0.1/cb",  # multicast, "global" to Python
    "https://[::1]/cb",
    "https://[::ffff:127.0.0.1]/cb",  # IPv4-mapped
    "https://[2002:7f00:1::]/cb",  # 6to4 of 127.0.0.1
    "https://[64:ff9b::a00:1]/cb",  # NAT64 of 10.0.0.1
    "https://[::7f00:1]/cb",  # IPv4-compatible (deprecated)
    "https://[fe80::1%25eth0]/cb",
    "https://[fd00::1]/cb",
    "https://localhost/cb",
    "https://api.localhost/cb",
    "https://postgres:5432/cb",  # a single label: the cluster's search domains resolve it
    "https://rabbitmq.base-platform.svc/cb",
    "https://metadata.google.internal/cb",
    "https://127%2e0%2e0%2e1/cb",
    "https://hooks.example.com\\@127.0.0.1/cb",  # parsers disagree on the backslash
]


@pytest.mark.parametrize("url", REFUSED)
def test_callback_urls_to_internal_hosts_are_refused_in_any_notation(url) -> None:
    with pytest.raises(ValidationError, match="callback_url") as refused:
        parse_credentials({"channel": "chatgpt", "callback_url": url})
    assert "http" not in str(refused.value.errors()[0]["msg"])  # the reason, not the input


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1:9/cb",
        "http://0:9/cb",
        "https://100.64.0.1/cb",
        "https://169.254.169.254/cb",
        "https://[2002:7f00:1::]/cb",
        "https://[64:ff9b::a00:1]/cb",
        "https://[fd00::1]/cb",
        "https://postgres:5432/cb",
        "https://metadata.google.internal/cb",
    ],
)
def test_the_test_setting_allows_loopback_and_nothing_else_internal(url) -> None:
    with pytest.raises(ValidationError, match="callback_url"):
        parse_credentials({"channel": "chatgpt", "callback_url": url}, allow_loopback_http=True)


def test_public_callback_urls_are_kept_with_their_host_as_the_client_reads_it() -> None:
    def saved(url: str, **kw) -> str:
        credentials = parse_credentials({"channel": "phone", "callback_url": url}, **kw)
        return credentials.callback_url  # type: ignore[union-attr]

    assert saved("https://hooks.example.com:8443/r?x=1") == "https://hooks.example.com:8443/r?x=1"
    assert saved("https://8.8.8.8/cb") == "https://8.8.8.8/cb"
    assert saved("https://[2606:4700::1111]/cb") == "https://[2606:4700::1111]/cb"
    assert saved("https://Bücher.example/cb") == "https://xn--bcher-kva.example/cb"
    # Loopback in the tests' setting, stored in its one spelling.
    assert saved("http://2130706433:9/r", allow_loopback_http=True) == "http://127.0.0.1:9/r"
    assert saved("http://127。0。0。1:9/r", allow_loopback_http=True) == "http://127.0.0.1:9/r"


# -- the guard, where the connection is made ----------------------------------------------


def resolver(answers: dict[str, list[str]], calls: list[str] | None = None):
    """A resolver with these answers (the system's for other hosts), recording its calls."""

    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host in answers:
            return answers[host]
        return await system_resolver(host, port)

    return resolve


async def post(guard: AddressGuard, url: str) -> httpx.Response:
    async with guarded_client(guard, httpx.Timeout(2.0)) as client:
        return await client.post(url, json={"visitor_id": "v-guard"})


async def test_without_the_test_setting_no_loopback_address_is_connected_to(providers) -> None:
    port = providers.callback.url.rsplit(":", 1)[1]
    guard = AddressGuard(
        allow_loopback=False, resolve=resolver({"hooks.integrator.example": ["127.0.0.1"]})
    )
    for url in (
        f"http://127.0.0.1:{port}/replies",
        f"http://2130706433:{port}/replies",  # resolved by the system: 127.0.0.1
        f"http://hooks.integrator.example:{port}/replies",
    ):
        with pytest.raises(RefusedAddress, match="not a public address"):
            await post(guard, url)
    assert providers.callback.state.to("v-guard") == []


async def test_a_name_with_any_private_address_is_refused_before_connecting() -> None:
    guard = AddressGuard(
        allow_loopback=True,
        resolve=resolver({"cb.integrator.example": ["93.184.216.34", "10.0.0.7"]}),
    )
    with pytest.raises(RefusedAddress, match=r"resolves to 10\.0\.0\.7, which is not a public"):
        await post(guard, "https://cb.integrator.example/replies")


async def test_the_connection_goes_to_the_checked_address_with_the_urls_host(providers) -> None:
    """The name is resolved once, by the guard: the system resolver could not even find it,
    so reaching the fake proves no second resolution happened."""
    port = providers.callback.url.rsplit(":", 1)[1]
    calls: list[str] = []
    guard = AddressGuard(
        allow_loopback=True, resolve=resolver({"hooks.integrator.example": ["127.0.0.1"]}, calls)
    )
    response = await post(guard, f"http://hooks.integrator.example:{port}/replies")
    assert response.status_code == 200
    [request] = providers.callback.state.to("v-guard")
    assert request.headers["host"] == f"hooks.integrator.example:{port}"
    assert calls == ["hooks.integrator.example"]


# -- through the delivery -------------------------------------------------------------------


async def test_a_reply_to_a_name_resolving_inside_fails_with_the_reason_and_is_not_sent(
    app, client, new_owner, publish, query, providers, monkeypatch
) -> None:
    owner = await new_owner()
    account = await connect(
        client, owner, "chatgpt", {"callback_url": "https://hooks.integrator.example/replies"}
    )
    guard = app.state.delivery.guard
    monkeypatch.setattr(guard, "resolve", resolver({"hooks.integrator.example": ["10.0.0.7"]}))
    conversation_id, visitor = await visitor_writes(publish, query, account)
    message = (await reply(client, owner, conversation_id)).json()
    failed = await settled(client, owner, message["id"], "failed")
    assert "hooks.integrator.example resolves to 10.0.0.7" in failed["delivery_error"]
    assert "not sent" in failed["delivery_error"]
    assert providers.callback.state.to(visitor) == []


async def test_a_callback_url_saved_before_the_rules_tightened_is_refused_at_send(
    app, client, new_owner, publish, query, execute, providers, settings
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "chatgpt", providers=providers)
    # What the old check let through (10.1 is 10.0.0.1), written as it was stored then.
    vault = Vault(settings.encryption_keys)
    stored = {
        "channel": "chatgpt",
        "callback_url": "https://10.1/replies",
        "signing_secret": "s" * 32,
    }
    await execute(
        "UPDATE conversations.channel_accounts SET credentials_encrypted = :c WHERE id = :id",
        c=vault.encrypt(stored),
        id=UUID(account["id"]),
    )
    read = await client.get(f"{API}/channel-accounts/{account['id']}", headers=owner.headers)
    assert read.json()["credentials"]["callback_url"] == "https://10.1/replies"  # readable
    conversation_id, visitor = await visitor_writes(publish, query, account)
    message = (await reply(client, owner, conversation_id)).json()
    failed = await settled(client, owner, message["id"], "failed")
    assert "no longer accepted" in failed["delivery_error"]
    assert "10.0.0.1 is not" in failed["delivery_error"]
    assert providers.callback.state.to(visitor) == []


async def test_a_callback_redirect_is_not_followed(
    client, new_owner, publish, query, providers
) -> None:
    owner = await new_owner()
    account = await connect(client, owner, "chatgpt", providers=providers)
    conversation_id, visitor = await visitor_writes(publish, query, account)
    providers.callback.state.answer_next(
        307, {}, headers={"Location": "http://169.254.169.254/latest/meta-data"}
    )
    message = (await reply(client, owner, conversation_id)).json()
    failed = await settled(client, owner, message["id"], "failed")
    assert "HTTP 307" in failed["delivery_error"]
    assert len(providers.callback.state.to(visitor)) == 1


# -- owner replies, per workspace ----------------------------------------------------------


async def test_owner_replies_are_rate_limited_per_workspace_with_a_readable_429(
    app, client, new_owner, publish, query, providers
) -> None:
    # Starlette's State does not survive monkeypatch's undo: put the limiter back by hand.
    kept = app.state.owner_reply_limit
    app.state.owner_reply_limit = SlidingWindowLimiter(3, 60.0)
    try:
        await owner_replies_beyond_the_limit_are_refused(
            client, new_owner, publish, query, providers
        )
    finally:
        app.state.owner_reply_limit = kept


async def owner_replies_beyond_the_limit_are_refused(client, new_owner, publish, query, providers):
    owner, other = await new_owner(), await new_owner()
    conversation_id, _ = await visitor_writes(
        publish, query, await connect(client, owner, "chatgpt", providers=providers)
    )
    for _ in range(3):
        assert (await reply(client, owner, conversation_id)).status_code == 201
    refused = await reply(client, owner, conversation_id)
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Too many replies from this workspace")
    assert int(refused.headers["retry-after"]) >= 1
    rows = await query(
        "SELECT count(*) AS n FROM conversations.messages "
        "WHERE conversation_id = :c AND role = 'owner'",
        c=UUID(conversation_id),
    )
    assert rows[0].n == 3  # the refused one stored nothing
    # Another business is not affected.
    other_conversation, _ = await visitor_writes(
        publish, query, await connect(client, other, "chatgpt", providers=providers)
    )
    assert (await reply(client, other, other_conversation)).status_code == 201


async def test_a_callback_connect_timeout_is_parked_not_waited_out_then_fails_not_sent(
    app, client, new_owner, publish, query, providers, settings, monkeypatch
) -> None:
    """Resolving counts as connecting: a name that takes longer than the connect timeout is
    a connect timeout (nothing sent). Each try is parked and comes back later, never retried
    in place, and after DELIVERY_MAX_RETRIES it fails, saying it was not sent."""
    owner = await new_owner()
    account = await connect(
        client, owner, "chatgpt", {"callback_url": "https://slow.integrator.example/replies"}
    )
    tries: list[float] = []

    async def slow(host: str, port: int) -> list[str]:
        tries.append(time.monotonic())
        await asyncio.sleep(30)
        return ["93.184.216.34"]

    monkeypatch.setattr(app.state.delivery.guard, "resolve", slow)
    conversation_id, _ = await visitor_writes(publish, query, account)
    message = (await reply(client, owner, conversation_id)).json()
    failed = await settled(client, owner, message["id"], "failed")
    assert "ConnectTimeout" in failed["delivery_error"]
    assert "it was not sent" in failed["delivery_error"]
    assert len(tries) == settings.delivery_max_retries + 1
    connect_timeout = settings.delivery_callback_connect_timeout_seconds
    for n, (before, after) in enumerate(itertools.pairwise(tries)):
        # the connect timeout, then the parking queue's wait, doubling
        assert after - before >= connect_timeout + settings.delivery_park_seconds * 2**n - 0.05
