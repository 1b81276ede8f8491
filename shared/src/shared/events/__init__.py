"""Event envelope and the versioned payload catalog. Producers and consumers import from here."""

from shared.events.base import (
    Envelope,
    Event,
    UnknownEvent,
    event_class,
    parse_envelope,
    registered_events,
    routing_key,
)
from shared.events.connectors import (
    BookingCancelledV1,
    BookingCreatedV1,
    ConnectorActivatedV1,
    ConnectorDeactivatedV1,
)
from shared.events.conversations import (
    ContactCreatedV1,
    ContactDeletedV1,
    ContactMergedV1,
    ContactUpdatedV1,
    ConversationHandedOffV1,
    ConversationStartedV1,
    MessageDeliveryUpdatedV1,
    MessageReceivedV1,
    MessageReplyRequestedV1,
    NotificationEmailRequestedV1,
)
from shared.events.identity import UserCreatedV1, UserDeletedV1
from shared.events.ingest import InboundMessageAcceptedV1
from shared.events.workspaces import (
    WorkspaceCreatedV1,
    WorkspaceDeletedV1,
    WorkspaceFaqEntryV1,
    WorkspacePoliciesV1,
    WorkspaceServiceCreatedV1,
    WorkspaceServiceDeletedV1,
    WorkspaceServiceUpdatedV1,
    WorkspaceUpdatedV1,
)

__all__ = [
    "BookingCancelledV1",
    "BookingCreatedV1",
    "ConnectorActivatedV1",
    "ConnectorDeactivatedV1",
    "ContactCreatedV1",
    "ContactDeletedV1",
    "ContactMergedV1",
    "ContactUpdatedV1",
    "ConversationHandedOffV1",
    "ConversationStartedV1",
    "Envelope",
    "Event",
    "InboundMessageAcceptedV1",
    "MessageDeliveryUpdatedV1",
    "MessageReceivedV1",
    "MessageReplyRequestedV1",
    "NotificationEmailRequestedV1",
    "UnknownEvent",
    "UserCreatedV1",
    "UserDeletedV1",
    "WorkspaceCreatedV1",
    "WorkspaceDeletedV1",
    "WorkspaceFaqEntryV1",
    "WorkspacePoliciesV1",
    "WorkspaceServiceCreatedV1",
    "WorkspaceServiceDeletedV1",
    "WorkspaceServiceUpdatedV1",
    "WorkspaceUpdatedV1",
    "event_class",
    "parse_envelope",
    "registered_events",
    "routing_key",
]
