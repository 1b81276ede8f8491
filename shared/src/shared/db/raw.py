"""asyncpg directly, inside a session's transaction, for the few statements on hot paths.

A statement through the ORM session costs about 0.16 ms of the service's CPU on top of
asyncpg's own 0.05 ms (measured: 2,000 prebuilt UPDATEs each way): compiling or looking up
the cached compilation, the execution context, result processing and the greenlet switches.
On the paths that run per message (the agent's turn, a reply stored and queued) that is most
of what the service spends, so those statements are plain SQL run with asyncpg on the very
connection and transaction the unit of work holds: ORM statements before and after them in
the same transaction see what they wrote, and the unit of work commits or rolls back all.

    raw = Raw(uow.session)
    row = await raw.fetchrow("SELECT ... WHERE id = $1", conversation_id)

What comes back is asyncpg's: `Record`s, with JSON and JSONB already decoded (the dialect
sets their codecs on every pooled connection; a JSON parameter goes in as its text, e.g.
`json.dumps(value)`), UUIDs as `uuid.UUID` subclasses. Errors are SQLAlchemy's, as the ORM
raises them (an `IntegrityError` for a violated constraint; a lost connection is invalidated
and reads as the database being away, `shared.db.unavailable`).

A statement can be written as SQL (`$1`, `$2`...) or built with SQLAlchemy and compiled once
(`Prepared`): then it is named once, its parameters are passed by name and converted as the
ORM would (a JSONB parameter serialized), and its rows read as attributes (`row.id`), like
SQLAlchemy's. asyncpg prepares each statement once per connection (its statement cache).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
import sqlalchemy.exc
from sqlalchemy import event
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

log = logging.getLogger(__name__)

# Our engines' dialect: asyncpg's with SQLAlchemy's defaults (make_engine sets no serializer).
_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]


class Row(asyncpg.Record):  # type: ignore[misc]
    """A row whose columns also read as attributes (`row.id`), as SQLAlchemy's rows do."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class Prepared:
    """A SQLAlchemy statement compiled once to asyncpg's SQL: `args(params)` puts the named
    parameters in order, with the values bound in the statement itself, each converted by
    its type as the ORM would convert it."""

    __slots__ = ("_binds", "_names", "_process", "sql")

    def __init__(self, statement: ClauseElement) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=_DIALECT))
        self.sql = compiled.string
        self._names = tuple(compiled.positiontup or ())
        self._binds = {k: b.effective_value for k, b in compiled.binds.items()}
        self._process: dict[str, Callable[[Any], Any]] = {}
        for name, process in compiled._bind_processors.items():
            if not callable(process):  # a tuple's, one per element: none of ours has them
                raise ValueError(f"tuple parameters are not supported: {name}")
            self._process[name] = process

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        values = []
        for name in self._names:
            value = params[name] if name in params else self._binds[name]
            process = self._process.get(name)
            values.append(process(value) if process is not None else value)
        return values


class Raw:
    """asyncpg on `session`'s connection, in its transaction (begun here if not yet).

    `transaction=False` is for reads that need no snapshot in common: they run each on its
    own, without BEGIN and ROLLBACK (two round trips fewer), unless the session's transaction
    was begun already, which they then join."""

    __slots__ = ("session", "transaction")

    def __init__(self, session: AsyncSession, *, transaction: bool = True) -> None:
        self.session = session
        self.transaction = transaction

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self._run(_fetch, sql, args)  # type: ignore[no-any-return]

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return await self._run(_fetchrow, sql, args)  # type: ignore[no-any-return]

    async def execute(self, sql: str, *args: Any) -> None:
        await self._run(_execute, sql, args)

    async def rows(self, statement: Prepared, params: Mapping[str, Any]) -> list[Row]:
        return await self.fetch(statement.sql, *statement.args(params))

    async def row(self, statement: Prepared, params: Mapping[str, Any]) -> Row | None:
        return await self.fetchrow(statement.sql, *statement.args(params))

    async def _run(self, call: _Call, sql: str, args: tuple[Any, ...]) -> Any:
        held = await self._held()
        connection, sync = held.connection, held.sync
        # Announced as SQLAlchemy's own statements are, to the engine's cursor listeners
        # (tracing spans, statement counters in tests); nothing is done when it has none.
        events, failures = sync.dispatch, sync.dialect.dispatch.handle_error
        context = _Statement() if events.before_cursor_execute or failures else None
        if context is not None:
            events.before_cursor_execute(sync, None, sql, args, context, False)
        try:
            if (
                self.transaction
                and held.adapted._transaction is None
                and not (held.adapted.autocommit)
            ):
                # SQLAlchemy's asyncpg adapter sends BEGIN only before its first statement:
                # it is started here the way the adapter would, so its commit or rollback
                # ends it as usual.
                await held.adapted._start_transaction()
            result = await call(held.driver, sql, args)
        except Exception as exc:
            error = await _translated(connection, exc, sql, args)
            if context is not None:
                lost = isinstance(error, sqlalchemy.exc.DBAPIError) and bool(
                    error.connection_invalidated
                )
                for listener in failures:
                    listener(_Failure(sync, exc, error, sql, args, context, lost))
            raise error from exc
        if context is not None:
            events.after_cursor_execute(sync, None, sql, args, context, False)
        return result

    async def _held(self) -> _Held:
        """The session's connection and the asyncpg connection under it, looked up once per
        session transaction (each lookup is two greenlet switches through SQLAlchemy, a
        quarter of a hot statement's cost) and kept in `session.info` until the transaction
        ends: a later transaction of the same session may hold another connection."""
        transaction = self.session.sync_session.get_transaction()
        held: _Held | None = self.session.info.get(_HELD_KEY)
        if held is not None and transaction is not None and held.transaction is transaction:
            return held
        connection = await self.session.connection()  # checked out, begun for SQLAlchemy
        sync = connection.sync_connection
        assert sync is not None
        pooled = await connection.get_raw_connection()
        held = _Held(
            self.session.sync_session.get_transaction(),
            connection,
            sync,
            pooled.dbapi_connection,
            pooled.driver_connection,
        )
        self.session.info[_HELD_KEY] = held
        return held


_HELD_KEY = "shared.db.raw.held"


@event.listens_for(Session, "after_transaction_end")
def _forget_held(session: Session, transaction: SessionTransaction) -> None:
    """The connections a transaction held go back to the pool with it: nothing keeps them
    (kept, the pool's record of each outlives its checkout until the garbage collector runs,
    which cost more on the next checkout than the lookups saved)."""
    held = session.info.get(_HELD_KEY)
    if held is not None and held.transaction is transaction:
        del session.info[_HELD_KEY]


@dataclass(frozen=True, slots=True)
class _Held:
    transaction: Any  # the session's SessionTransaction these belong to
    connection: AsyncConnection
    sync: Connection
    adapted: Any  # SQLAlchemy's adapter of the asyncpg connection
    driver: asyncpg.Connection


_Call = Callable[[asyncpg.Connection, str, tuple[Any, ...]], Awaitable[Any]]


async def _fetch(driver: asyncpg.Connection, sql: str, args: tuple[Any, ...]) -> list[Row]:
    return cast(list[Row], await driver.fetch(sql, *args, record_class=Row))


async def _fetchrow(driver: asyncpg.Connection, sql: str, args: tuple[Any, ...]) -> Row | None:
    return cast(Row | None, await driver.fetchrow(sql, *args, record_class=Row))


async def _execute(driver: asyncpg.Connection, sql: str, args: tuple[Any, ...]) -> None:
    await driver.execute(sql, *args)


class _Statement:
    """The execution context cursor listeners get for a raw statement: a place for what
    they keep between before and after (a tracing span)."""


@dataclass
class _Failure:
    """What `handle_error` listeners read of a raw statement that failed (the attributes
    of SQLAlchemy's ExceptionContext they use)."""

    connection: Connection
    original_exception: BaseException
    sqlalchemy_exception: BaseException
    statement: str
    parameters: tuple[Any, ...]
    execution_context: _Statement
    is_disconnect: bool = False


async def _translated(
    connection: AsyncConnection, exc: Exception, sql: str, args: tuple[Any, ...]
) -> Exception:
    """What SQLAlchemy would have raised for `exc` (asyncpg's, or the error SQLAlchemy's
    adapter raised for it when starting the transaction). A connection lost or left unusable
    (the server went away, before or during the statement) is invalidated, so the pool closes
    it instead of handing it out again, and the error says so (`shared.db.unavailable`)."""
    dbapi = connection.dialect.loaded_dbapi
    if not isinstance(exc, (*_DRIVER_ERRORS, dbapi.Error)):
        return exc
    pooled = await connection.get_raw_connection()
    adapted: Any = pooled.dbapi_connection
    driver: asyncpg.Connection = pooled.driver_connection
    # The driver's own error: for one the adapter raised already, the one underneath it.
    cause = exc.__cause__ if isinstance(exc, dbapi.Error) and exc.__cause__ else exc
    if isinstance(cause, asyncpg.PostgresError) and not (
        driver.is_closed() or isinstance(cause, _LOST)
    ):
        translated = exc
        if not isinstance(exc, dbapi.Error):
            try:
                adapted._handle_exception(exc)  # raises dbapi's error
            except dbapi.Error as raised:
                translated = raised
        error: Exception = sqlalchemy.exc.DBAPIError.instance(sql, args, translated, dbapi.Error)
        return error
    # The transaction died with the connection: nothing to roll back.
    adapted._transaction = None
    try:
        await connection.invalidate(exc)
    except Exception:  # already invalidated or closed: the pool will not hand it out again
        log.debug("invalidating a lost connection failed", exc_info=True)
    return sqlalchemy.exc.DBAPIError(sql, args, exc, connection_invalidated=True)


_DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,  # the protocol caught mid-operation by a loss
    OSError,
)
_LOST = (asyncpg.PostgresConnectionError, asyncpg.exceptions.OperatorInterventionError)
