"""Event consumers of the workspaces service: thin (parse, claim inbox, call a use case)."""

from shared.runtime import Runtime

CONSUMER = "workspaces"


def register(runtime: Runtime) -> None:
    """Subscribe this service's handlers on its own quorum queues."""
