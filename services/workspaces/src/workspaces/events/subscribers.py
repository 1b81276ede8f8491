"""Event consumers of the workspaces service: thin (parse, claim inbox, call a use case)."""

import logging

from shared.db.inbox import idempotent
from shared.events import Envelope, UserDeletedV1
from shared.runtime import Runtime
from workspaces.db.models import inbox
from workspaces.db.uow import WorkspacesUnitOfWork
from workspaces.usecases.workspaces import delete_user_workspace

CONSUMER = "workspaces"
log = logging.getLogger(__name__)


async def on_user_deleted(uow: WorkspacesUnitOfWork, envelope: Envelope) -> None:
    """A deleted user's workspace and services go too, announced by workspace.deleted."""
    event = envelope.parsed()
    assert isinstance(event, UserDeletedV1)
    if not await delete_user_workspace(uow, event.user_id):
        log.info("deleted user had no workspace", extra={"event_type": envelope.type})


def register(runtime: Runtime) -> None:
    """Subscribe this service's handlers on its own quorum queues."""

    def uow_factory() -> WorkspacesUnitOfWork:
        return WorkspacesUnitOfWork(runtime.sessionmaker)

    runtime.bus.subscribe(UserDeletedV1, idempotent(uow_factory, inbox, CONSUMER, on_user_deleted))
