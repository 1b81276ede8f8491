"""The gateway's AsyncAPI document, from the running services: every event in the catalogue
with its producer, and as consumers exactly the queues the services subscribe to."""

from __future__ import annotations

import importlib
import logging

import httpx

from shared.asyncapi import producer_of
from shared.events import registered_events, routing_key

from .conftest import SERVICES, System


def subscribed_queues(system: System) -> set[tuple[str, str]]:
    """(service, queue) for every subscriber each service registers, built in this process."""
    found = set()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # create_app configures logging
    for service in SERVICES:
        main = importlib.import_module(f"{service}.main")
        settings = importlib.import_module(f"{service}.settings").Settings(
            queue_prefix=system.env["QUEUE_PREFIX"], _env_file=None
        )
        app = main.create_app(settings)
        for queue in app.state.runtime.bus.consumed_queues():
            found.add((service, queue.name))
    root.handlers[:], root.level = handlers, level
    return found


async def test_merged_asyncapi_lists_every_event_its_producer_and_the_subscribed_queues(
    api: httpx.AsyncClient, system: System
) -> None:
    response = await api.get("/api/v1/asyncapi.json")
    assert response.status_code == 200, response.text
    doc = response.json()
    assert "x-unavailable-services" not in doc, doc["x-unavailable-services"]
    assert set(doc["channels"]) == {routing_key(e) for e in registered_events()}
    consumers = set()
    for event in registered_events():
        channel = doc["channels"][routing_key(event)]
        assert channel["x-producer"] == producer_of(event)
        assert channel["x-event"]["version"] == event.VERSION
        assert channel["bindings"]["amqp"]["exchange"]["name"] == system.env["EVENTS_EXCHANGE"]
        consumers |= {(c["service"], c["queue"]) for c in channel["x-consumers"]}
    assert consumers == subscribed_queues(system)
    page = await api.get("/api/v1/asyncapi")
    assert page.status_code == 200
    assert "AsyncApiStandalone" in page.text and "inbound_message.accepted" in page.text


async def test_each_service_serves_its_own_asyncapi_document_only_to_the_gateway(
    system: System,
) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        for service in ("workspaces", "connectors", "conversations"):
            response = await client.get(f"{system.url(service)}/api/v1/asyncapi.json")
            assert response.status_code == 401, service
