from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared.db.pool import FairAsyncPool

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def make_engine(url: str, pool_size: int = 10, application_name: str = "base") -> AsyncEngine:
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        poolclass=FairAsyncPool,  # waiting requests get connections in arrival order
        connect_args={"server_settings": {"application_name": application_name}},
    )
    event.listen(engine.sync_engine.pool, "checkout", _refuse_closed)
    return engine


def _refuse_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection whose socket the server closed (a restart, an idle timeout) is
    replaced before use: the pool retries the checkout with a new connection.

    This stands in for `pool_pre_ping`, which costs three round trips on every checkout with
    asyncpg (BEGIN, an empty query, ROLLBACK): about a tenth of a small request's CPU in the
    service, and as many statements again for Postgres. asyncpg learns of a closed socket
    from the event loop as soon as the server closes it, so asking it costs nothing.
    """
    connection = getattr(dbapi_connection, "_connection", None)  # asyncpg's own
    if connection is not None and connection.is_closed():
        raise DisconnectionError("the server closed this connection")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
