"""Telling "the database is away" from a fault of ours.

A restart, a failover or a full pool makes SQLAlchemy raise what a bug would raise: a
`DBAPIError` (or the pool's `TimeoutError`). The asyncpg error underneath says which it is:
the server shutting down or starting up, a connection cut in the middle, none to be had.
Those are a 503 with Retry-After for the caller, who may try again; anything else stays a 500.
"""

from __future__ import annotations

import asyncpg.exceptions
import sqlalchemy.exc

# Raised around a database that is restarting, failing over or out of connections.
_AWAY = (
    asyncpg.exceptions.PostgresConnectionError,  # class 08: connection lost or refused
    asyncpg.exceptions.OperatorInterventionError,  # 57P: shutting down, starting up
    asyncpg.exceptions.TooManyConnectionsError,
    ConnectionError,  # refused or reset before Postgres could say anything
    sqlalchemy.exc.TimeoutError,  # no pooled connection within pool_timeout
)

# What a handler can be registered for; `database_away` decides among them.
DATABASE_ERRORS = (sqlalchemy.exc.DBAPIError, sqlalchemy.exc.TimeoutError, ConnectionError)


def database_away(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) says the database could not be reached."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _AWAY):
            return True
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False
