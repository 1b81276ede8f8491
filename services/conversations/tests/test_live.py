"""Live streams over a real HTTP server: replay, push, resume, auth, limits, replicas."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
import uvicorn

from conversations.main import create_app
from shared.testing import TEST_SECRET_KEY, EventStream, internal_headers, wait_until

API = "/api/v1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serve(app) -> AsyncIterator[str]:
    """The app (lifespan already running) behind a real uvicorn, so responses stream."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    await wait_until(lambda: asyncio.sleep(0, server.started or None), timeout=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        await task


@pytest.fixture(scope="module")
async def base_url(app, client) -> AsyncIterator[str]:
    async with serve(app) as url:
        yield url


def internal_headers_for(user_id):
    """What the gateway adds to every forwarded request (None: a public, anonymous one)."""
    return internal_headers(TEST_SECRET_KEY, "conversations", user_id)


@contextlib.asynccontextmanager
async def stream(
    url: str, headers: dict[str, str] | None = None, **kw: Any
) -> AsyncIterator[EventStream]:
    headers = internal_headers_for(None) | (headers or {})
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as http,
        http.stream("GET", url, headers=headers, **kw) as response,
    ):
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield EventStream(response)


def visitor_headers(as_user) -> dict[str, str]:
    return as_user(None) | {"X-Forwarded-For": f"10.{uuid4().int % 250}.1.1"}


async def open_chat(client, owner, as_user) -> tuple[str, str]:
    opened = await client.post(
        f"{API}/public/workspaces/{owner.handle}/conversations", headers=visitor_headers(as_user)
    )
    assert opened.status_code == 201, opened.text
    return opened.json()["conversation_id"], opened.json()["visitor_token"]


async def visitor_says(client, as_user, conversation_id: str, token: str, text: str) -> dict:
    posted = await client.post(
        f"{API}/public/conversations/{conversation_id}/messages",
        json={"content": text},
        headers=visitor_headers(as_user) | {"X-Visitor-Token": token},
    )
    assert posted.status_code == 201, posted.text
    return posted.json()


def events_url(base_url: str, conversation_id: str) -> str:
    return f"{base_url}{API}/public/conversations/{conversation_id}/events"


async def test_visitor_stream_replays_history_then_pushes_replies_and_delivery_changes(
    base_url, client, new_owner, as_user, execute
) -> None:
    owner = await new_owner()
    conversation_id, token = await open_chat(client, owner, as_user)
    first = await visitor_says(client, as_user, conversation_id, token, "Hi there")

    async with stream(events_url(base_url, conversation_id), params={"token": token}) as events:
        ready = await events.next()
        assert (ready["event"], ready["json"]) == ("ready", {"last_event_id": 0})
        replayed = await events.next()
        assert (replayed["event"], replayed["json"]["id"]) == ("message", first["id"])

        reply = await client.post(
            f"{API}/messages/",
            json={"conversation_id": conversation_id, "content": "Hello, how can I help?"},
            headers=owner.headers,
        )
        assert reply.status_code == 201, reply.text
        pushed = await events.next(timeout=2)
        assert pushed["json"]["content"] == "Hello, how can I help?"
        assert pushed["json"]["role"] == "owner"
        assert int(pushed["id"]) > int(replayed["id"])

        await execute(
            "UPDATE conversations.messages SET delivery_status = 'delivered' WHERE id = :id",
            id=reply.json()["id"],
        )
        moved = await events.next(timeout=2)
        assert (moved["json"]["id"], moved["json"]["delivery_status"]) == (
            reply.json()["id"],
            "delivered",
        )
        assert int(moved["id"]) > int(pushed["id"])


async def test_reconnecting_with_last_event_id_gets_exactly_what_was_missed(
    base_url, client, new_owner, as_user
) -> None:
    owner = await new_owner()
    conversation_id, token = await open_chat(client, owner, as_user)
    await visitor_says(client, as_user, conversation_id, token, "one")
    url = events_url(base_url, conversation_id)
    async with stream(url, headers={"X-Visitor-Token": token}) as events:
        await events.next()  # ready
        seen = await events.next()
        assert seen["json"]["content"] == "one"

    # Written while the visitor was away (a phone in a tunnel).
    for text in ("two", "three", "four"):
        await visitor_says(client, as_user, conversation_id, token, text)

    async with stream(url, params={"token": token}, headers={"Last-Event-ID": seen["id"]}) as ev:
        assert (await ev.next())["json"] == {"last_event_id": int(seen["id"])}
        got = [(await ev.next())["json"]["content"] for _ in range(3)]
        assert got == ["two", "three", "four"]
        await visitor_says(client, as_user, conversation_id, token, "five")
        assert (await ev.next(timeout=2))["json"]["content"] == "five"


async def test_stream_refuses_missing_or_forged_tokens_and_hides_other_conversations(
    base_url, client, new_owner, as_user
) -> None:
    owner = await new_owner()
    conversation_id, token = await open_chat(client, owner, as_user)
    other_id, other_token = await open_chat(client, owner, as_user)
    url = events_url(base_url, conversation_id)
    async with httpx.AsyncClient(timeout=5, headers=internal_headers_for(None)) as http:
        missing = await http.get(url)
        forged = await http.get(url, params={"token": token[:-4] + "AAAA"})
        foreign = await http.get(url, params={"token": other_token})
        bad_cursor = await http.get(url, params={"token": token}, headers={"Last-Event-ID": "x"})
    assert missing.status_code == 401 and "token" in missing.json()["detail"]
    assert forged.status_code == 401
    assert foreign.status_code == 404
    assert bad_cursor.status_code == 422
    # A cookie works too (a page may set it instead of putting the token in the URL).
    async with stream(url, cookies={"visitor_token": token}) as events:
        assert (await events.next())["event"] == "ready"
    assert other_id != conversation_id


async def test_owner_stream_shows_new_conversations_messages_and_status_changes(
    base_url, client, new_owner, as_user
) -> None:
    owner = await new_owner()
    other = await new_owner()
    url = f"{base_url}{API}/conversations/events"
    async with stream(url, headers=owner.headers) as events:
        ready = await events.next()
        assert ready["event"] == "ready"
        await open_chat(client, other, as_user)  # another workspace: not shown
        conversation_id, token = await open_chat(client, owner, as_user)
        created = await events.next(timeout=2)
        assert (created["event"], created["json"]["id"]) == ("conversation", conversation_id)

        message = await visitor_says(client, as_user, conversation_id, token, "Can I book?")
        shown = await events.next(timeout=2)
        assert (shown["event"], shown["json"]["id"]) == ("message", message["id"])

        patched = await client.patch(
            f"{API}/conversations/{conversation_id}",
            json={"status": "pending"},
            headers=owner.headers,
        )
        assert patched.status_code == 200, patched.text
        handed = await events.next(timeout=2)
        assert (handed["event"], handed["json"]["status"]) == ("conversation", "pending")

    # Resuming from the ready id replays what changed after it, each row once, as it is now
    # (the conversation's creation and handoff are one row: shown once, pending).
    async with stream(url, headers=owner.headers | {"Last-Event-ID": ready["id"]}) as again:
        await again.next()
        replay = [await again.next() for _ in range(2)]
        assert [(e["event"], e["json"]["id"]) for e in replay] == [
            ("message", message["id"]),
            ("conversation", conversation_id),
        ]
        assert replay[1]["json"]["status"] == "pending"


async def test_owner_stream_without_workspace_is_404_and_without_login_401(base_url) -> None:
    url = f"{base_url}{API}/conversations/events"
    async with httpx.AsyncClient(timeout=5) as http:
        nobody = await http.get(url, headers=internal_headers_for(None))
        no_workspace = await http.get(url, headers=internal_headers_for(uuid4()))
    assert nobody.status_code == 401
    assert no_workspace.status_code == 404


async def test_concurrent_writers_in_one_workspace_reach_a_following_stream_without_loss(
    base_url, client, new_owner, as_user
) -> None:
    owner = await new_owner()
    chats = [await open_chat(client, owner, as_user) for _ in range(3)]
    async with stream(f"{base_url}{API}/conversations/events", headers=owner.headers) as events:
        await events.next()
        posted = await asyncio.gather(
            *(
                visitor_says(client, as_user, cid, token, f"burst {i}")
                for i in range(10)
                for cid, token in chats
            )
        )
        wanted = {m["id"] for m in posted}
        seen: list[int] = []
        got: set[str] = set()
        while got != wanted:
            event = await events.next(timeout=5)
            seen.append(int(event["id"]))
            if event["event"] == "message":
                got.add(event["json"]["id"])
        assert seen == sorted(seen) and len(set(seen)) == len(seen)


async def test_streams_beyond_the_limits_get_429_per_visitor_and_503_per_process(
    app, base_url, client, new_owner, as_user
) -> None:
    owner = await new_owner()
    conversation_id, token = await open_chat(client, owner, as_user)
    url = events_url(base_url, conversation_id)
    hub = app.state.live.hub
    limit = hub.max_per_client
    async with contextlib.AsyncExitStack() as opened:
        streams = [
            await opened.enter_async_context(stream(url, params={"token": token}))
            for _ in range(limit)
        ]
        for events in streams:
            await events.next()
        async with httpx.AsyncClient(timeout=5, headers=internal_headers_for(None)) as http:
            over = await http.get(url, params={"token": token})
        assert over.status_code == 429 and over.headers["retry-after"]
        assert str(limit) in over.json()["detail"]

        other_id, other_token = await open_chat(client, owner, as_user)
        saved, hub.max_streams = hub.max_streams, hub.open_streams
        try:
            async with httpx.AsyncClient(timeout=5, headers=internal_headers_for(None)) as http:
                full = await http.get(events_url(base_url, other_id), params={"token": other_token})
        finally:
            hub.max_streams = saved
        assert full.status_code == 503
    # Closed streams give their slots back.
    await wait_until(lambda: asyncio.sleep(0, hub.open_streams == 0 or None), timeout=5)


async def test_a_change_written_through_one_replica_is_pushed_by_another(
    settings, base_url, client, new_owner, as_user
) -> None:
    replica = create_app(settings.model_copy(update={"run_consumers": False, "run_relay": False}))
    owner = await new_owner()
    conversation_id, token = await open_chat(client, owner, as_user)
    async with (
        replica.router.lifespan_context(replica),  # not running(): it deletes the shared bus
        serve(replica) as other_url,
        stream(events_url(other_url, conversation_id), params={"token": token}) as ev,
    ):
        await ev.next()
        loop = asyncio.get_running_loop()
        started = loop.time()
        await visitor_says(client, as_user, conversation_id, token, "via replica one")
        pushed = await ev.next(timeout=2)
        assert pushed["json"]["content"] == "via replica one"
        # Well below the fallback poll: NOTIFY woke it.
        assert loop.time() - started < settings.live_poll_seconds / 2


async def test_listener_reconnects_after_its_connection_is_killed(
    app, base_url, client, new_owner, as_user, execute
) -> None:
    listener = app.state.live.listener
    await wait_until(lambda: asyncio.sleep(0, listener.connected.is_set() or None), timeout=5)
    pid = listener._connection.get_server_pid()
    await execute("SELECT pg_terminate_backend(:pid)", pid=pid)
    await wait_until(
        lambda: asyncio.sleep(
            0,
            (listener.connected.is_set() and listener._connection.get_server_pid() != pid) or None,
        ),
        timeout=10,
    )
    owner = await new_owner()
    conversation_id, token = await open_chat(client, owner, as_user)
    async with stream(events_url(base_url, conversation_id), params={"token": token}) as ev:
        await ev.next()
        await visitor_says(client, as_user, conversation_id, token, "after the drop")
        assert (await ev.next(timeout=2))["json"]["content"] == "after the drop"


async def test_listener_outlives_any_failure_of_a_database_coming_back(settings, execute) -> None:
    """A restarting Postgres fails a connect in many ways, not only OSError: the connection
    closed under `add_listener` is an asyncpg InterfaceError. The listener keeps trying and
    then wakes streams on NOTIFY as before."""
    import asyncpg

    from conversations.live import listener as module
    from conversations.live.hub import Hub

    real_connect = asyncpg.connect
    failures = [
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.InterfaceError("cannot perform operation: another operation in progress"),
        RuntimeError("something nobody foresaw"),
    ]
    met: list[str] = []

    async def flaky_connect(*args: Any, **kwargs: Any) -> Any:
        if failures:
            failure = failures.pop(0)
            met.append(type(failure).__name__)
            raise failure
        return await real_connect(*args, **kwargs)

    hub = Hub(max_streams=10, max_per_client=5)
    listener = module.LiveListener(
        settings.database_url, hub, retry_seconds=0.05, connect=flaky_connect
    )
    listener.start()
    try:
        await asyncio.wait_for(listener.connected.wait(), 10)
        assert met == ["ConnectionDoesNotExistError", "InterfaceError", "RuntimeError"]
        workspace, conversation = uuid4(), uuid4()
        subscription = hub.open(workspace, "owner:test")
        payload = f'{{"workspace_id": "{workspace}", "conversation_id": "{conversation}"}}'
        await execute(f"SELECT pg_notify('{module.CHANNEL}', :payload)", payload=payload)
        await asyncio.wait_for(subscription.wake.wait(), 5)
    finally:
        await listener.stop()
