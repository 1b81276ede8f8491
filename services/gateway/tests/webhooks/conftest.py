"""The webhook router in a small app of its own, publishing to a real RabbitMQ exchange."""

from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.settings import Settings
from gateway.webhooks.api import router
from shared.bus import Bus
from shared.events import Envelope, InboundMessageAcceptedV1
from shared.testing import TEST_SECRET_KEY, delete_bus_names, test_names, wait_until

META_APP_SECRET = "meta-app-secret-for-tests"
META_VERIFY_TOKEN = "meta-verify-token-for-tests"
TWILIO_AUTH_TOKEN = "twilio-auth-token-for-tests"
INBOUND_SECRET = "inbound-signing-secret-for-tests"
PUBLIC_BASE_URL = "https://hooks.example.com"


@pytest.fixture(scope="session")
def webhook_settings() -> Settings:
    return Settings(
        **test_names("gateway"),
        secret_key=TEST_SECRET_KEY,
        meta_app_secret=META_APP_SECRET,
        meta_verify_token=META_VERIFY_TOKEN,
        twilio_auth_token=TWILIO_AUTH_TOKEN,
        inbound_signing_secret=INBOUND_SECRET,
        public_base_url=PUBLIC_BASE_URL,
    )


class Received:
    """Every `inbound_message.accepted` that reached a queue bound on the test exchange."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def collect(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def items(self, predicate: Callable[[InboundMessageAcceptedV1], bool]) -> list[Any]:
        parsed = [e.parsed() for e in self.envelopes]
        return [p for p in parsed if predicate(p)]  # type: ignore[arg-type]

    async def wait_for(self, external_id: str, count: int = 1) -> list[InboundMessageAcceptedV1]:
        async def arrived() -> list[Any] | None:
            found = self.items(lambda i: i.external_id == external_id)
            return found if len(found) >= count else None

        return await wait_until(arrived)


@pytest.fixture(scope="session")
async def webhook_bus(webhook_settings: Settings) -> AsyncIterator[tuple[Bus, Received]]:
    bus = Bus(webhook_settings, "gateway")
    received = Received()
    bus.subscribe(InboundMessageAcceptedV1, received.collect, consumer="webhook-tests")
    await bus.start()
    try:
        yield bus, received
    finally:
        await bus.stop()
        await delete_bus_names(
            webhook_settings.rabbitmq_url, webhook_settings.events_exchange, bus.queue_names
        )


def webhook_app(settings: Settings, bus: Any) -> FastAPI:
    app = FastAPI()
    app.include_router(router, prefix="/api/v1")
    app.state.settings = settings
    app.state.runtime = SimpleNamespace(bus=bus)
    return app


@pytest.fixture
async def webhooks(
    webhook_settings: Settings, webhook_bus: tuple[Bus, Received]
) -> AsyncIterator[httpx.AsyncClient]:
    app = webhook_app(webhook_settings, webhook_bus[0])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


@pytest.fixture
def webhook_client(webhook_settings: Settings) -> Callable[[Any], httpx.AsyncClient]:
    """A client for the router publishing on a bus of the test's choosing."""

    def make(bus: Any) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=webhook_app(webhook_settings, bus))
        return httpx.AsyncClient(transport=transport, base_url="http://gateway")

    return make


@pytest.fixture
def received(webhook_bus: tuple[Bus, Received]) -> Received:
    return webhook_bus[1]
