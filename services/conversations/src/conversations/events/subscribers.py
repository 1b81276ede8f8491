"""Event consumers of the conversations service: thin (parse, claim inbox, call a use case)."""

from collections.abc import Awaitable, Callable

from conversations.db.models import inbox
from conversations.db.uow import ConversationsUnitOfWork
from conversations.usecases.inbound import accept_inbound_message
from conversations.usecases.projection import project_workspace, remove_workspace
from shared.db.inbox import idempotent
from shared.events import (
    Envelope,
    InboundMessageAcceptedV1,
    WorkspaceCreatedV1,
    WorkspaceDeletedV1,
    WorkspaceUpdatedV1,
)
from shared.runtime import Runtime

CONSUMER = "conversations"


def register(runtime: Runtime) -> None:
    """Subscribe this service's handlers on its own quorum queues."""

    def uow() -> ConversationsUnitOfWork:
        return ConversationsUnitOfWork(runtime.sessionmaker)

    def handler(
        effect: Callable[[ConversationsUnitOfWork, Envelope], Awaitable[None]],
    ) -> Callable[[Envelope], Awaitable[None]]:
        return idempotent(uow, inbox, CONSUMER, effect)

    bus = runtime.bus
    bus.subscribe(InboundMessageAcceptedV1, handler(accept_inbound_message))
    bus.subscribe(WorkspaceCreatedV1, handler(project_workspace))
    bus.subscribe(WorkspaceUpdatedV1, handler(project_workspace))
    bus.subscribe(WorkspaceDeletedV1, handler(remove_workspace))
