"""Apply every service's database migrations, then exit.

    python deploy/migrate.py                  # all services, in order
    python deploy/migrate.py workspaces       # only some of them

The one-shot step that runs before the services start (compose `migrate`, the Kubernetes
Job, `make migrate`). It creates the database if it is missing, then upgrades each service's
Alembic environment to head; each environment keeps its tables and its version table in its
own schema. `DATABASE_URL` comes from the environment (or `.env`), as for the services.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from shared.db.migrations import ensure_database, upgrade
from shared.settings import ServiceSettings, plain_database_url

ROOT = Path(__file__).resolve().parent.parent

# Order of application, and the schema each service's migrations own.
SCHEMAS: dict[str, str] = {
    "gateway": "identity",
    "workspaces": "workspaces",
    "connectors": "connectors",
    "conversations": "conversations",
}


def alembic_ini(service: str, root: Path = ROOT) -> Path:
    return root / "services" / service / "alembic.ini"


async def _current_revision(database_url: str, schema: str) -> str | None:
    conn = await asyncpg.connect(plain_database_url(database_url), timeout=10)
    try:
        table = await conn.fetchval("SELECT to_regclass($1)", f'"{schema}".alembic_version')
        if table is None:
            return None
        # The schema name comes from SCHEMAS above, never from input.
        query = f'SELECT version_num FROM "{schema}".alembic_version'  # noqa: S608
        return await conn.fetchval(query)
    finally:
        await conn.close()


def migrate(services: list[str], database_url: str, root: Path = ROOT) -> None:
    missing = [str(alembic_ini(s, root)) for s in services if not alembic_ini(s, root).is_file()]
    if missing:
        # Checked before touching the database, so a broken image changes nothing.
        raise SystemExit("no Alembic environment at: " + ", ".join(missing))

    shown = make_url(database_url).render_as_string(hide_password=True)
    print(f"database: {shown}", flush=True)
    asyncio.run(ensure_database(database_url))
    for service in services:
        schema = SCHEMAS[service]
        print(f"{service}: migrating schema {schema!r}", flush=True)
        upgrade(alembic_ini(service, root), database_url)
        revision = asyncio.run(_current_revision(database_url, schema))
        if revision is None:
            raise SystemExit(f"{service}: no version table in schema {schema!r} after upgrade")
        print(f"{service}: schema {schema!r} at revision {revision}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "services",
        nargs="*",
        metavar="service",
        help=f"services to migrate, in this order: {', '.join(SCHEMAS)} (default: all)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.services) - set(SCHEMAS))
    if unknown:
        parser.error(f"unknown service(s): {', '.join(unknown)}; choose from {', '.join(SCHEMAS)}")
    services = [s for s in SCHEMAS if s in args.services] if args.services else list(SCHEMAS)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    database_url = ServiceSettings().database_url
    migrate(services, database_url)
    print("migrations applied: " + ", ".join(services), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
