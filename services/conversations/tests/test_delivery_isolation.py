"""One business's dead callback does not slow down everybody else's replies.

Its own app, database and queues, with the production delivery settings (CONSUMER_PREFETCH
16, DELIVERY_TIMEOUT_SECONDS 10, the callback timeouts 2 s / 5 s, the tenant shares): the
session's app shortens those timeouts for speed, which would hide the stall measured here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conversations.main import create_app
from conversations.settings import Settings
from shared.testing import TEST_SECRET_KEY, migrated_database, running, wait_until
from shared.testing import test_names as fresh_names

from .test_replies import connect, reply, settled, visitor_writes

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
A_REPLIES = 48  # three times the consumer's prefetch


class BlackHole:
    """A callback server that accepts every connection, reads, and never answers."""

    def __init__(self) -> None:
        self.accepted = 0
        self.open = 0
        self.most_open = 0
        self.server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while await reader.read(65536):
                pass
        finally:
            self.open -= 1
            writer.close()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/replies"

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()


@pytest.fixture(scope="module")
def settings(providers) -> Settings:
    return Settings(
        **fresh_names("conversations"),
        secret_key=TEST_SECRET_KEY,
        relay_poll_seconds=0.5,
        graph_api_base_url=providers.graph.url,
        twilio_api_base_url=providers.twilio.url,
        callback_allow_loopback_http=True,
        agent_enabled=False,
    )


@pytest.fixture(scope="module")
async def database(settings: Settings) -> AsyncIterator[str]:
    async with migrated_database(settings.database_url, [ALEMBIC_INI]) as url:
        yield url


@pytest.fixture(scope="module")
def app(settings: Settings):
    return create_app(settings)


@pytest.fixture(scope="module")
async def client(app, database):
    async with running(app) as client:
        yield client


async def reply_latency(client, owner, conversation_id: str, text: str) -> float:
    """From the owner's POST to the reply `sent` (accepted by the provider)."""
    started = time.monotonic()
    response = await reply(client, owner, conversation_id, text)
    assert response.status_code == 201, response.text
    await settled(client, owner, response.json()["id"], "sent")
    return time.monotonic() - started


async def test_a_black_hole_callback_does_not_stall_another_businesss_replies(
    app, client, settings, new_owner, publish, query, providers
) -> None:
    hole = BlackHole()
    url = await hole.start()
    try:
        # Business B: a WhatsApp chat answered by its owner; the latency without any load.
        b = await new_owner()
        chat, _ = await visitor_writes(publish, query, await connect(client, b, "whatsapp"))
        quiet = [await reply_latency(client, b, chat, f"quiet {n}") for n in range(3)]

        # Business A: its integrator's callback accepts connections and never answers.
        a = await new_owner()
        account = await connect(client, a, "phone", {"callback_url": url})
        conversations = [(await visitor_writes(publish, query, account))[0] for _ in range(4)]
        replies = []
        for n in range(A_REPLIES):
            response = await reply(client, a, conversations[n % 4], f"to the void {n}")
            assert response.status_code == 201, response.text
            replies.append(response.json()["id"])
        # A's sends are stuck in the black hole before B speaks (the positive signal).
        await wait_until(lambda: asyncio.sleep(0, hole.open >= 4), timeout=15)

        loaded = [await reply_latency(client, b, chat, f"busy {n}") for n in range(5)]
        print(f"B reply latency: quiet {quiet}, with A's black hole {loaded}")
        bound = 1.5  # the black hole holds each of A's sends for 5 s (10 s before)
        assert max(loaded) < bound, (quiet, loaded)
        # A used only its share of the consumer's slots.
        assert hole.most_open <= settings.delivery_concurrency_per_workspace

        # A's replies end `unknown` (they may have arrived), each after one call only.
        first = await settled(client, a, replies[0], "unknown")
        assert "did not answer within 5s" in first["delivery_error"]
        assert "not resent automatically" in first["delivery_error"]
    finally:
        await hole.stop()
