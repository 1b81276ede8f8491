"""AsyncAPI 3.0 documents of the events, generated so they cannot drift from the code.

- `service_document(bus)`: FastStream's document of one service's subscribers, with each
  message's payload typed by its class from the event catalogue (the handlers take a plain
  dict, so FastStream alone would say "object"), plus a send operation for every event the
  service produces.
- `merged_document(...)`: one document for the whole topic exchange, built by the gateway
  from the catalogue and every service's document: each event once, with its routing key,
  version, payload schema, its producer and the queues that consume it.

Producers are known by module: the payload classes live in `shared/events/<module>.py`, one
module per producing service (`PRODUCERS`); a new module without a producer fails a test.
"""

from __future__ import annotations

import copy
import inspect
import json
from collections.abc import Mapping
from typing import Any

from shared.bus import Bus
from shared.events import Envelope, Event, registered_events, routing_key

PRODUCERS = {
    "identity": "gateway",
    "ingest": "gateway",
    "workspaces": "workspaces",
    "connectors": "connectors",
    "conversations": "conversations",
}
VERSION = "1.0.0"
AMQP = "0.3.0"


def producer_of(event: type[Event]) -> str:
    module = event.__module__.rsplit(".", 1)[-1]
    try:
        return PRODUCERS[module]
    except KeyError:
        raise LookupError(f"no producer known for events in shared.events.{module}") from None


def produced_by(service: str) -> list[type[Event]]:
    return [event for event in registered_events() if producer_of(event) == service]


def message_name(event: type[Event]) -> str:
    return event.__name__


def _summary(event: type[Event]) -> str:
    doc = event.__dict__.get("__doc__")
    return inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " ") if doc else event.TYPE


def _add_schemas(schemas: dict[str, Any], event: type[Event]) -> None:
    """The payload class, its nested definitions, and the envelope that carries it."""
    payload = event.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in payload.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas[event.__name__] = payload
    envelope = Envelope.model_json_schema(ref_template="#/components/schemas/{model}")
    envelope["title"] = f"{event.__name__} envelope"
    envelope["properties"]["type"] = {"const": event.TYPE, "type": "string"}
    envelope["properties"]["version"] = {"const": event.VERSION, "type": "integer"}
    envelope["properties"]["payload"] = {"$ref": f"#/components/schemas/{event.__name__}"}
    schemas[f"{event.__name__}Envelope"] = envelope


def _message(event: type[Event]) -> dict[str, Any]:
    return {
        "name": event.TYPE,
        "title": f"{event.TYPE} v{event.VERSION}",
        "summary": _summary(event),
        "contentType": "application/json",
        "correlationId": {"location": "$message.header#/correlation_id"},
        "headers": {
            "type": "object",
            "properties": {
                "event_type": {"const": event.TYPE, "type": "string"},
                "version": {"const": event.VERSION, "type": "integer"},
                "traceparent": {"type": "string", "description": "W3C trace context"},
            },
        },
        "payload": {"$ref": f"#/components/schemas/{event.__name__}Envelope"},
        "bindings": {
            "amqp": {"messageType": event.TYPE, "deliveryMode": 2, "bindingVersion": AMQP}
        },
    }


def _event_info(event: type[Event]) -> dict[str, Any]:
    return {"type": event.TYPE, "version": event.VERSION, "routing_key": routing_key(event)}


def _exchange_binding(exchange: str) -> dict[str, Any]:
    return {
        "amqp": {
            "is": "routingKey",
            "exchange": {"name": exchange, "type": "topic", "durable": True, "autoDelete": False},
            "bindingVersion": AMQP,
        }
    }


def service_document(bus: Bus) -> dict[str, Any]:
    from faststream.specification import AsyncAPI  # only when a document is asked for

    service = bus.service
    doc: dict[str, Any] = {}
    for broker in bus.documented_brokers():  # batch consumers are described apart
        part: dict[str, Any] = (
            AsyncAPI(
                broker,
                title=f"Base Platform {service} events",
                version=VERSION,
                description=f"What {service} consumes and produces on `{bus.exchange.name}`.",
                schema_version="3.0.0",
            )
            .to_specification()
            .to_jsonable()
        )
        if not doc:
            doc = part
            continue
        for key in ("channels", "operations"):
            doc.setdefault(key, {}).update(part.get(key, {}))
        for key, values in part.get("components", {}).items():
            doc.setdefault("components", {}).setdefault(key, {}).update(values)
    catalogue = {routing_key(event): event for event in registered_events()}
    channels = doc.setdefault("channels", {})
    operations = doc.setdefault("operations", {})
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    messages = components.setdefault("messages", {})
    for channel in channels.values():
        event = catalogue.get(channel.get("address", ""))
        if event is None:
            continue
        channel["x-event"] = _event_info(event)
        for ref in channel.get("messages", {}).values():
            message = messages[ref["$ref"].rsplit("/", 1)[-1]]
            untyped = message.get("payload", {}).get("$ref", "").rsplit("/", 1)[-1]
            schemas.pop(untyped, None)
            message.update({k: v for k, v in _message(event).items() if k != "name"})
        _add_schemas(schemas, event)
    for event in produced_by(service):
        key = routing_key(event)
        name = message_name(event)
        channel_id = f"{key}:publish"
        channels[channel_id] = {
            "address": key,
            "title": event.TYPE,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": _exchange_binding(bus.exchange.name),
            "x-event": _event_info(event),
        }
        operations[f"{service}.publish.{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"}],
        }
        messages[name] = _message(event)
        _add_schemas(schemas, event)
    return doc


def consumers_in(service: str, doc: Mapping[str, Any]) -> list[dict[str, str]]:
    """The queues a service document says it consumes, with their routing key and handler."""
    found = []
    for channel_id, channel in doc.get("channels", {}).items():
        amqp = channel.get("bindings", {}).get("amqp", {})
        if amqp.get("is") != "queue" or "x-event" not in channel:
            continue
        found.append(
            {
                "service": service,
                "queue": amqp["queue"]["name"],
                "routing_key": channel["x-event"]["routing_key"],
                "handler": channel_id.rpartition(":")[2],
            }
        )
    return found


def merged_document(
    documents: Mapping[str, Mapping[str, Any]],
    exchange: str,
    unavailable: list[str] | None = None,
) -> dict[str, Any]:
    consumers: dict[str, list[dict[str, str]]] = {}
    for service, document in documents.items():
        for consumer in consumers_in(service, document):
            consumers.setdefault(consumer["routing_key"], []).append(consumer)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for event in registered_events():
        key = routing_key(event)
        name = message_name(event)
        producer = producer_of(event)
        readers = sorted(consumers.get(key, []), key=lambda c: (c["service"], c["queue"]))
        channels[key] = {
            "address": key,
            "title": event.TYPE,
            "description": (
                f"{_summary(event)}\n\nProduced by **{producer}**; consumed by "
                + (
                    ", ".join(f"**{c['service']}** (`{c['queue']}`)" for c in readers)
                    or "nobody yet"
                )
                + "."
            ),
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": _exchange_binding(exchange),
            "x-event": _event_info(event),
            "x-producer": producer,
            "x-consumers": [{"service": c["service"], "queue": c["queue"]} for c in readers],
        }
        operations[f"{producer}.publish.{key}"] = {
            "action": "send",
            "title": f"{producer} publishes {event.TYPE}",
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{name}"}],
            "x-service": producer,
        }
        for c in readers:
            operations[f"{c['service']}.{c['queue']}"] = {
                "action": "receive",
                "title": f"{c['service']} consumes {event.TYPE} ({c['handler']})",
                "channel": {"$ref": f"#/channels/{key}"},
                "messages": [{"$ref": f"#/channels/{key}/messages/{name}"}],
                "bindings": {"amqp": {"cc": [key], "ack": True, "bindingVersion": AMQP}},
                "x-service": c["service"],
                "x-queue": c["queue"],
            }
        messages[name] = _message(event)
        _add_schemas(schemas, event)
    doc: dict[str, Any] = {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Base Platform events",
            "version": VERSION,
            "description": (
                f"Every event on the durable topic exchange `{exchange}`. Routing key "
                "`<type>.v<version>`; every message is persistent, its `message_id` is the "
                "event id and its body the envelope around the versioned payload. Each "
                "consumer reads its own quorum queue `<consumer>.<routing key>` with a "
                "dead-letter queue `<queue>.dlq`."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
    if unavailable:
        doc["x-unavailable-services"] = sorted(unavailable)
    return copy.deepcopy(doc)


class Rendered:
    """What FastStream's HTML page needs of a specification: a title and its JSON."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc
        self.title = str(doc.get("info", {}).get("title", "AsyncAPI"))

    def to_json(self) -> str:
        return json.dumps(self.doc)

    def to_jsonable(self) -> Any:
        return self.doc

    def to_yaml(self) -> str:
        return self.to_json()


def html(doc: Mapping[str, Any]) -> str:
    from faststream.specification import get_asyncapi_html

    return get_asyncapi_html(Rendered(doc), try_it_out_path=None)
