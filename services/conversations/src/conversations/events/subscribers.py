"""Event consumers of the conversations service: thin (parse, claim inbox, call a use case)."""

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from conversations.db.models import inbox
from conversations.db.uow import ConversationsUnitOfWork
from conversations.delivery.parking import ATTEMPTS_HEADER, Parking
from conversations.delivery.service import Delivery
from conversations.settings import Settings
from conversations.usecases.agent_projection import (
    project_connector,
    project_service,
    remove_service,
)
from conversations.usecases.inbound import accept_inbound_message
from conversations.usecases.inbound_batch import accept_inbound_batch
from conversations.usecases.projection import project_workspace, remove_workspace
from conversations.usecases.reminders import (
    project_booking_cancelled,
    project_booking_created,
    project_booking_marked,
)
from shared.db.inbox import idempotent
from shared.events import (
    BookingCancelledV1,
    BookingCreatedV1,
    BookingMarkedV1,
    ConnectorActivatedV1,
    ConnectorDeactivatedV1,
    Envelope,
    InboundMessageAcceptedV1,
    MessageReceivedV1,
    MessageReplyRequestedV1,
    WorkspaceCreatedV1,
    WorkspaceDeletedV1,
    WorkspaceServiceCreatedV1,
    WorkspaceServiceDeletedV1,
    WorkspaceServiceUpdatedV1,
    WorkspaceUpdatedV1,
)
from shared.runtime import Runtime
from shared.task_consumer import subscribe_tasks

if TYPE_CHECKING:
    from conversations.agent.loop import AgentRunner
    from conversations.reminders.scheduler import ReminderScheduler

CONSUMER = "conversations"


def register(runtime: Runtime, agent: "AgentRunner | None" = None) -> None:
    """Subscribe this service's handlers on its own quorum queues."""

    def uow() -> ConversationsUnitOfWork:
        return ConversationsUnitOfWork(runtime.sessionmaker)

    def handler(
        effect: Callable[[ConversationsUnitOfWork, Envelope], Awaitable[None]],
    ) -> Callable[[Envelope], Awaitable[None]]:
        return idempotent(uow, inbox, CONSUMER, effect)

    bus = runtime.bus
    settings = runtime.settings
    assert isinstance(settings, Settings)

    async def accept_inbound_messages(envelopes: list[Envelope]) -> None:
        """Inbound messages, many per transaction (usecases/inbound_batch.py)."""
        async with uow() as batch:
            await accept_inbound_batch(batch, envelopes, CONSUMER)
            await batch.commit()

    bus.subscribe_batch(
        InboundMessageAcceptedV1,
        accept_inbound_messages,
        handler(accept_inbound_message),  # each alone, when a batch fails
        size=settings.inbound_batch_size,
        wait_seconds=settings.inbound_batch_wait_ms / 1000,
    )
    bus.subscribe(WorkspaceCreatedV1, handler(project_workspace))
    bus.subscribe(WorkspaceUpdatedV1, handler(project_workspace))
    bus.subscribe(WorkspaceDeletedV1, handler(remove_workspace))
    # What the agent knows of the workspace's services and calendar.
    bus.subscribe(WorkspaceServiceCreatedV1, handler(project_service))
    bus.subscribe(WorkspaceServiceUpdatedV1, handler(project_service))
    bus.subscribe(WorkspaceServiceDeletedV1, handler(remove_service))
    bus.subscribe(ConnectorActivatedV1, handler(project_connector))
    bus.subscribe(ConnectorDeactivatedV1, handler(project_connector))
    if agent is not None:
        register_agent(runtime, agent)


def register_agent(runtime: Runtime, agent: "AgentRunner") -> None:
    """The agent's consumer of `message.received`, on its own queue: the agent scales and
    fails apart from storing messages. No inbox claim: a redelivery finds its message
    answered (agent_conversations.answered_ids). Consumed with aio-pika directly, each
    message in a task of its own, up to `CONSUMER_PREFETCH` at once (shared/task_consumer.py):
    a turn that waits for the visitor to finish writing holds one of them."""
    bus = runtime.bus

    async def on_message_received(envelope: Envelope, headers: Mapping[str, Any]) -> None:
        await agent.on_message_received(envelope)

    subscribe_tasks(bus, MessageReceivedV1, on_message_received, "agent")


DELIVERY = "conversations-delivery"


def register_delivery(runtime: Runtime, delivery: Delivery) -> None:
    """The delivery consumer, on its own queue: no inbox claim, since the reply's own row
    is the claim (pending -> sending), committed before the provider is called. Consumed
    with aio-pika directly, each reply in a task of its own (shared/task_consumer.py), so
    replies in flight together share their statements (delivery/coalesce.py)."""

    bus = runtime.bus

    async def on_message_reply_requested(envelope: Envelope, headers: Mapping[str, Any]) -> None:
        attempts = int(str(headers.get(ATTEMPTS_HEADER) or 0))
        await delivery.on_reply_requested(envelope, parked_attempts=attempts)

    tasks = subscribe_tasks(bus, MessageReplyRequestedV1, on_message_reply_requested, DELIVERY)
    delivery.parking = Parking(bus, tasks.queue.name)


def register_reminders(runtime: Runtime, scheduler: "ReminderScheduler | None") -> None:
    """Bookings, for reminders: each event plans or cancels its jobs in the transaction that
    claims it (inbox); the local scheduler, if any, is woken after the commit."""

    def uow() -> ConversationsUnitOfWork:
        return ConversationsUnitOfWork(runtime.sessionmaker)

    created = idempotent(uow, inbox, CONSUMER, project_booking_created)
    cancelled = idempotent(uow, inbox, CONSUMER, project_booking_cancelled)
    marked = idempotent(uow, inbox, CONSUMER, project_booking_marked)

    async def on_booking_created(envelope: Envelope) -> None:
        await created(envelope)
        if scheduler is not None:
            scheduler.wake()

    async def on_booking_cancelled(envelope: Envelope) -> None:
        await cancelled(envelope)

    runtime.bus.subscribe(BookingCreatedV1, on_booking_created)
    runtime.bus.subscribe(BookingCancelledV1, on_booking_cancelled)
    runtime.bus.subscribe(BookingMarkedV1, marked)
