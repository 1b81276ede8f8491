"""Event consumers of the connectors service: thin (parse, claim inbox, call a use case)."""

from shared.runtime import Runtime

CONSUMER = "connectors"


def register(runtime: Runtime) -> None:
    """Subscribe this service's handlers on its own quorum queues."""
