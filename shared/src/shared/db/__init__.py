"""Async database helpers: metadata with a naming convention, engine, outbox and inbox tables."""

from shared.db.base import make_engine, make_metadata, make_sessionmaker
from shared.db.inbox import claim_event, inbox_table
from shared.db.outbox import outbox_table
from shared.db.uow import UnitOfWork

__all__ = [
    "UnitOfWork",
    "claim_event",
    "inbox_table",
    "make_engine",
    "make_metadata",
    "make_sessionmaker",
    "outbox_table",
]
