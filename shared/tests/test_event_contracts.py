"""Producer and consumer share these classes; the snapshot catches accidental drift.

A deliberate change within a version must be additive and optional: regenerate the snapshot
with `UPDATE_CONTRACTS=1 pytest shared/tests/test_event_contracts.py` and review the diff.
A breaking change is a new class with a new version and routing key.
"""

import json
import os
from pathlib import Path

from shared.events import Envelope, registered_events, routing_key

SNAPSHOT = Path(__file__).parent / "contracts" / "events.json"


def current_contracts() -> dict[str, object]:
    return {
        routing_key(cls): cls.model_json_schema(mode="serialization") for cls in registered_events()
    } | {"envelope": Envelope.model_json_schema(mode="serialization")}


def test_event_schemas_match_the_snapshot() -> None:
    current = current_contracts()
    if os.environ.get("UPDATE_CONTRACTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    recorded = json.loads(SNAPSHOT.read_text())
    assert sorted(recorded) == sorted(current), "event catalogue changed"
    for key, schema in current.items():
        assert schema == recorded[key], f"contract of {key} changed"


def test_catalogue_covers_the_architecture() -> None:
    keys = {routing_key(cls) for cls in registered_events()}
    assert keys >= {
        "user.created.v1",
        "user.deleted.v1",
        "workspace.created.v1",
        "workspace.updated.v1",
        "workspace.deleted.v1",
        "workspace_service.created.v1",
        "workspace_service.updated.v1",
        "workspace_service.deleted.v1",
        "connector.activated.v1",
        "connector.deactivated.v1",
        "booking.created.v1",
        "booking.cancelled.v1",
        "conversation.started.v1",
        "message.received.v1",
        "inbound_message.accepted.v1",
    }


def test_envelope_round_trips_and_parses_its_payload() -> None:
    import uuid

    from shared.events import UserDeletedV1, parse_envelope

    event = UserDeletedV1(user_id=uuid.uuid4())
    envelope = Envelope.wrap(event, producer="gateway", correlation_id="req-1")
    again = parse_envelope(envelope.model_dump_json())
    assert again == envelope
    assert again.routing_key == "user.deleted.v1"
    assert again.aggregate_id == str(event.user_id)
    assert again.parsed() == event
