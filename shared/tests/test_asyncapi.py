"""AsyncAPI documents come from the event catalogue and the subscribers, so they cannot drift."""

from __future__ import annotations

from typing import Any

import pytest

from shared.asyncapi import (
    PRODUCERS,
    html,
    merged_document,
    producer_of,
    service_document,
)
from shared.bus import Bus
from shared.events import (
    Envelope,
    InboundMessageAcceptedV1,
    UserDeletedV1,
    WorkspaceCreatedV1,
    registered_events,
    routing_key,
)
from shared.settings import ServiceSettings


def resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def payload_schema(doc: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    envelope = resolve(doc, message["payload"]["$ref"])
    result: dict[str, Any] = resolve(doc, envelope["properties"]["payload"]["$ref"])
    return result


def bus_of(service: str, *events: type, consumer: str | None = None) -> Bus:
    bus = Bus(ServiceSettings(events_exchange="docs.events", queue_prefix="t."), service)

    async def on_event(envelope: Envelope) -> None:
        """Handle it."""

    for event in events:
        bus.subscribe(event, on_event, consumer=consumer)
    return bus


def test_every_event_in_the_catalogue_has_a_known_producer() -> None:
    assert {producer_of(event) for event in registered_events()} <= set(PRODUCERS.values())


def test_a_service_document_types_its_subscribers_and_lists_what_it_produces() -> None:
    doc = service_document(bus_of("workspaces", UserDeletedV1))
    [subscribed] = [c for c in doc["channels"].values() if c["address"] == "user.deleted.v1"]
    assert subscribed["bindings"]["amqp"]["queue"]["name"] == "t.workspaces.user.deleted.v1"
    [ref] = subscribed["messages"].values()
    message = resolve(doc, ref["$ref"])
    assert message["title"] == "user.deleted v1"
    assert payload_schema(doc, message)["properties"].keys() == (
        UserDeletedV1.model_json_schema()["properties"].keys()
    )
    sends = {
        op["channel"]["$ref"].rsplit("/", 1)[-1]
        for op in doc["operations"].values()
        if op["action"] == "send"
    }
    assert sends == {
        f"{routing_key(e)}:publish" for e in registered_events() if producer_of(e) == "workspaces"
    }
    assert f"{routing_key(WorkspaceCreatedV1)}:publish" in sends


def test_the_merged_document_lists_each_event_once_with_its_producer_and_consumers() -> None:
    documents = {
        "gateway": service_document(bus_of("gateway")),
        "conversations": service_document(
            bus_of("conversations", InboundMessageAcceptedV1, WorkspaceCreatedV1)
        ),
        "connectors": service_document(bus_of("connectors", WorkspaceCreatedV1)),
        "agentic": service_document(bus_of("agentic", WorkspaceCreatedV1, consumer="helper")),
    }
    doc = merged_document(documents, "docs.events", ["workspaces"])
    assert doc["asyncapi"] == "3.0.0"
    assert doc["x-unavailable-services"] == ["workspaces"]
    assert set(doc["channels"]) == {routing_key(e) for e in registered_events()}
    for event in registered_events():
        channel = doc["channels"][routing_key(event)]
        assert channel["x-event"] == {
            "type": event.TYPE,
            "version": event.VERSION,
            "routing_key": routing_key(event),
        }
        assert channel["x-producer"] == producer_of(event)
        assert channel["bindings"]["amqp"]["exchange"]["name"] == "docs.events"
        [ref] = channel["messages"].values()
        schema = payload_schema(doc, resolve(doc, ref["$ref"]))
        expected = event.model_json_schema(ref_template="#/components/schemas/{model}")
        expected.pop("$defs", None)
        assert schema == expected, event.TYPE
        send = doc["operations"][f"{producer_of(event)}.publish.{routing_key(event)}"]
        assert send["action"] == "send"
    created = doc["channels"]["workspace.created.v1"]["x-consumers"]
    assert created == [
        {"service": "agentic", "queue": "t.helper.workspace.created.v1"},
        {"service": "connectors", "queue": "t.connectors.workspace.created.v1"},
        {"service": "conversations", "queue": "t.conversations.workspace.created.v1"},
    ]
    receive = doc["operations"]["conversations.t.conversations.inbound_message.accepted.v1"]
    assert receive["action"] == "receive"
    assert receive["bindings"]["amqp"]["cc"] == ["inbound_message.accepted.v1"]
    assert doc["channels"]["booking.created.v1"]["x-consumers"] == []
    # Every reference in the document resolves.
    refs: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(doc)
    for ref in refs:
        resolve(doc, ref)
    assert "AsyncApiStandalone" in html(doc)


def test_an_event_module_without_a_producer_is_refused() -> None:
    class Stray(UserDeletedV1):
        pass

    Stray.__module__ = "shared.events.nobody"
    with pytest.raises(LookupError, match=r"shared\.events\.nobody"):
        producer_of(Stray)
