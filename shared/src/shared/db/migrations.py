"""Alembic plumbing shared by every service: one schema, its own version table inside it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg
from alembic import command, context
from alembic.config import Config
from alembic.operations import Operations
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db.base import make_metadata
from shared.db.inbox import inbox_table
from shared.db.outbox import outbox_table, outbox_trigger_sql
from shared.settings import ServiceSettings, async_database_url, plain_database_url


def run_alembic_env(schema: str, target_metadata: MetaData) -> None:
    """Body of every service's `migrations/env.py`."""
    config = context.config
    url = config.attributes.get("database_url") or os.environ.get("DATABASE_URL")
    url = async_database_url(url or ServiceSettings().database_url)

    def do_run(connection: Connection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema,
            include_schemas=False,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.begin() as conn:
            await conn.run_sync(do_run)
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, version_table_schema=schema)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run_async())


def upgrade(alembic_ini: Path, database_url: str, revision: str = "head") -> None:
    """Apply a service's migrations (sync: alembic runs its own event loop)."""
    cfg = Config(str(alembic_ini))
    cfg.set_main_option("script_location", str(alembic_ini.parent / "migrations"))
    cfg.attributes["database_url"] = database_url
    command.upgrade(cfg, revision)


def create_outbox_and_inbox(op: Operations, schema: str) -> None:
    """Migration step: the outbox (with its NOTIFY trigger) and inbox tables of a schema."""
    bind = op.get_bind()
    metadata = make_metadata(schema)
    outbox_table(metadata).create(bind)
    inbox_table(metadata).create(bind)
    for statement in outbox_trigger_sql(schema):
        op.execute(statement)


async def ensure_database(database_url: str) -> None:
    """Create the database if it does not exist (connecting to the `postgres` maintenance DB)."""
    url = make_url(async_database_url(database_url))
    name = url.database
    admin = plain_database_url(url.set(database="postgres").render_as_string(hide_password=False))
    conn = await asyncpg.connect(admin, timeout=5)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(database_url: str) -> None:
    url = make_url(async_database_url(database_url))
    admin = plain_database_url(url.set(database="postgres").render_as_string(hide_password=False))
    conn = await asyncpg.connect(admin, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    finally:
        await conn.close()
