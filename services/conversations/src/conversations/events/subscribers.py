"""Event consumers of the conversations service: thin (parse, claim inbox, call a use case)."""

from shared.runtime import Runtime

CONSUMER = "conversations"


def register(runtime: Runtime) -> None:
    """Subscribe this service's handlers on its own quorum queues."""
