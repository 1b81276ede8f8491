"""Event consumers of the conversations service: thin (parse, claim inbox, call a use case)."""

from collections.abc import Awaitable, Callable

from conversations.db.models import inbox
from conversations.db.uow import ConversationsUnitOfWork
from conversations.delivery.service import Delivery
from conversations.usecases.inbound import accept_inbound_message
from conversations.usecases.projection import project_workspace, remove_workspace
from shared.db.inbox import idempotent
from shared.events import (
    Envelope,
    InboundMessageAcceptedV1,
    MessageReplyRequestedV1,
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


DELIVERY = "conversations-delivery"


def register_delivery(runtime: Runtime, delivery: Delivery) -> None:
    """The delivery consumer, on its own queue: no inbox claim, since the reply's own row
    is the claim (pending -> sending), committed before the provider is called."""

    async def on_message_reply_requested(envelope: Envelope) -> None:
        await delivery.on_reply_requested(envelope)

    runtime.bus.subscribe(MessageReplyRequestedV1, on_message_reply_requested, consumer=DELIVERY)
