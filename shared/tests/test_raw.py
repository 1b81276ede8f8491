"""`Raw`: asyncpg statements inside the session's transaction, with SQLAlchemy's errors."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest
import sqlalchemy.exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.db import make_sessionmaker
from shared.db.raw import Raw
from shared.db.unavailable import database_away

from .conftest import SCHEMA

COUNTERS = f'"{SCHEMA}".counters'


async def _value(engine: AsyncEngine, name: str) -> int | None:
    async with engine.connect() as conn:
        return await conn.scalar(
            text(f"SELECT value FROM {COUNTERS} WHERE name = :n"),
            {"n": name},
        )


async def test_raw_statements_share_the_sessions_transaction(engine: AsyncEngine, clean) -> None:
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        raw = Raw(session)
        # Raw first: it begins the transaction the ORM statement then joins...
        await raw.execute(f"INSERT INTO {COUNTERS} (name, value) VALUES ($1, $2)", "a", 1)
        await session.execute(text(f"UPDATE {COUNTERS} SET value = value + 1 WHERE name = 'a'"))
        # ...and a raw read sees the ORM's write, uncommitted.
        assert (await raw.fetchrow(f"SELECT value FROM {COUNTERS} WHERE name = $1", "a")) == (2,)
        assert await _value(engine, "a") is None, "nothing is visible before the commit"
        await session.rollback()
    assert await _value(engine, "a") is None, "the rollback undid the raw insert too"

    async with sessions() as session:
        await session.execute(text(f"INSERT INTO {COUNTERS} VALUES ('b', 1)"))
        await Raw(session).execute(f"UPDATE {COUNTERS} SET value = 5 WHERE name = 'b'")
        await session.commit()
    assert await _value(engine, "b") == 5


async def test_json_goes_in_as_text_and_comes_back_decoded(engine: AsyncEngine) -> None:
    async with make_sessionmaker(engine)() as session:
        value = {"parts": [1, "ü"], "none": None}
        row = await Raw(session).fetchrow("SELECT $1::text::jsonb AS j", json.dumps(value))
        assert row is not None and row["j"] == value


async def test_a_violated_constraint_is_sqlalchemys_integrity_error(
    engine: AsyncEngine, clean
) -> None:
    async with make_sessionmaker(engine)() as session:
        raw = Raw(session)
        await raw.execute(f"INSERT INTO {COUNTERS} VALUES ('c', 1)")
        with pytest.raises(sqlalchemy.exc.IntegrityError) as caught:
            await raw.execute(f"INSERT INTO {COUNTERS} VALUES ('c', 2)")
        assert "duplicate key" in str(caught.value)
        assert not database_away(caught.value)
        await session.rollback()
        # The session goes on after its rollback, raw and ORM alike.
        await raw.execute(f"INSERT INTO {COUNTERS} VALUES ('c', 3)")
        await session.commit()
    assert await _value(engine, "c") == 3


async def test_a_lost_connection_reads_as_the_database_away_and_is_not_reused(
    engine: AsyncEngine,
) -> None:
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        raw = Raw(session)
        row = await raw.fetchrow("SELECT pg_backend_pid() AS pid")
        assert row is not None
        async with engine.connect() as admin:
            await admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": row["pid"]})
        with pytest.raises(sqlalchemy.exc.DBAPIError) as caught:
            for _ in range(100):  # until the client has read the server's goodbye
                await raw.fetchrow("SELECT 1")
                await asyncio.sleep(0.01)
        assert caught.value.connection_invalidated
        assert database_away(caught.value)
    async with sessions() as session:
        row = await Raw(session).fetchrow("SELECT pg_backend_pid() AS pid")
        assert row is not None and row["pid"] != 0


async def test_a_prepared_statement_takes_named_parameters_and_converts_them(
    engine: AsyncEngine, clean
) -> None:
    from sqlalchemy import bindparam, literal, select
    from sqlalchemy.dialects.postgresql import JSONB

    from shared.db.raw import Prepared

    from .conftest import counters

    # A literal bound in the statement ("x"), a parameter used twice, a JSONB parameter.
    statement = Prepared(
        select(
            counters.c.name,
            (counters.c.value + bindparam("step")).label("next"),
            literal("x").label("tag"),
            bindparam("doc", type_=JSONB(none_as_null=True)).label("doc"),
        ).where(counters.c.name == bindparam("name"), counters.c.value < bindparam("step"))
    )
    assert "$4" in statement.sql and "$5" not in statement.sql  # a repeated one is sent once
    async with make_sessionmaker(engine)() as session:
        raw = Raw(session)
        await raw.execute(f"INSERT INTO {COUNTERS} VALUES ('d', 1)")
        row = await raw.row(statement, {"name": "d", "step": 10, "doc": {"a": [1]}})
        assert row is not None
        assert (row.name, row.next, row.tag, row.doc) == ("d", 11, "x", {"a": [1]})
        with pytest.raises(AttributeError):
            _ = row.missing
        row = await raw.row(statement, {"name": "d", "step": 10, "doc": None})
        assert row is not None and row.doc is None  # SQL NULL, not JSON null
        assert await raw.rows(statement, {"name": "d", "step": 1, "doc": None}) == []


async def test_cursor_listeners_see_raw_statements_as_sqlalchemys_own(
    engine: AsyncEngine, clean
) -> None:
    """Tracing and statement counters listen to the engine's cursor events: a raw statement
    is announced before and after it runs, and its failure to `handle_error`."""
    from sqlalchemy import event

    seen: list[tuple[str, str]] = []

    def before(conn, cursor, statement, parameters, context, executemany) -> None:
        context.mark = statement
        seen.append(("before", statement))

    def after(conn, cursor, statement, parameters, context, executemany) -> None:
        assert context.mark == statement  # what before kept reaches after
        seen.append(("after", statement))

    def failed(failure) -> None:
        seen.append(("failed", type(failure.original_exception).__name__))

    sync = engine.sync_engine
    listeners = (("before_cursor_execute", before), ("after_cursor_execute", after))
    for name, fn in listeners:
        event.listen(sync, name, fn)
    event.listen(sync, "handle_error", failed)
    try:
        async with make_sessionmaker(engine)() as session:
            raw = Raw(session)
            await raw.execute(f"INSERT INTO {COUNTERS} VALUES ('e', 1)")
            with pytest.raises(sqlalchemy.exc.IntegrityError):
                await raw.execute(f"INSERT INTO {COUNTERS} VALUES ('e', 1)")
    finally:
        for name, fn in listeners:
            event.remove(sync, name, fn)
        event.remove(sync, "handle_error", failed)
    insert = f"INSERT INTO {COUNTERS} VALUES ('e', 1)"
    assert seen == [
        ("before", insert),
        ("after", insert),
        ("before", insert),
        ("failed", "UniqueViolationError"),
    ], seen


async def test_reads_outside_a_transaction_leave_none_open(engine: AsyncEngine) -> None:
    """`transaction=False`: no BEGIN, so the session's connection sits idle, not idle in a
    transaction, between its reads; by default a transaction is open until the end."""

    async def state_after(raw_of) -> str:  # type: ignore[no-untyped-def]
        async with make_sessionmaker(engine)() as session:
            raw = raw_of(session)
            row = await raw.fetchrow("SELECT pg_backend_pid() AS pid")
            assert row is not None
            async with engine.connect() as other:
                return str(
                    await other.scalar(
                        text("SELECT state FROM pg_stat_activity WHERE pid = :p"), {"p": row.pid}
                    )
                )

    assert await state_after(lambda s: Raw(s, transaction=False)) == "idle"
    assert await state_after(Raw) == "idle in transaction"


async def test_a_connection_lost_before_begin_reads_as_the_database_away(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled connection the server closed, not yet noticed at checkout: the BEGIN that
    starts the transaction fails inside SQLAlchemy's adapter, which raises its own error
    ("connection is closed"). That too is the database away (a 503), not a 500."""
    async with make_sessionmaker(engine)() as session:
        connection = await session.connection()
        adapted = (await connection.get_raw_connection()).dbapi_connection

        async def closed(self) -> None:  # type: ignore[no-untyped-def]
            self._handle_exception(asyncpg.InterfaceError("connection is closed"))

        monkeypatch.setattr(type(adapted), "_start_transaction", closed)
        with pytest.raises(sqlalchemy.exc.DBAPIError) as caught:
            await Raw(session).fetchrow("SELECT 1")
        assert caught.value.connection_invalidated
        assert database_away(caught.value)


async def test_a_sessions_next_transaction_runs_on_the_connection_it_holds_then(
    engine: AsyncEngine, clean
) -> None:
    """The asyncpg connection is looked up once per transaction of the session: after a
    commit the session may get another pooled connection, and its raw statements follow it
    (they run in the new transaction, on the new connection, never on the one handed back)."""
    # One pooled connection and one more: after the commit, `other` takes the first.
    small = create_async_engine(engine.url, pool_size=1, max_overflow=1)
    try:
        await _next_transaction(small)
    finally:
        await small.dispose()
    assert await _value(engine, "c") == 1, "the second transaction was rolled back, whole"


async def _next_transaction(small: AsyncEngine) -> None:
    async with make_sessionmaker(small)() as session:
        raw = Raw(session)
        first = await raw.fetchrow("SELECT pg_backend_pid() AS pid, txid_current() AS tx")
        assert first is not None
        await raw.execute(f"INSERT INTO {COUNTERS} (name, value) VALUES ($1, $2)", "c", 1)
        assert session.info, "the transaction's connections are kept while it runs"
        await session.commit()
        assert not session.info, "and let go when it ends, with the connection"
        # The connection just handed back is taken by someone else meanwhile.
        async with small.connect() as other:
            taken = await other.scalar(text("SELECT pg_backend_pid()"))
            assert taken == first.pid
            second = await raw.fetchrow("SELECT pg_backend_pid() AS pid, txid_current() AS tx")
            assert second is not None
            assert second.pid != first.pid and second.tx != first.tx
            await raw.execute(f"UPDATE {COUNTERS} SET value = 2 WHERE name = $1", "c")
            assert await session.execute(text("SELECT 1")) is not None
            await session.rollback()
