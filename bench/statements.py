"""CPU of one hot-path statement through `shared.db.raw.Raw`, in process.

    .venv/bin/python bench/statements.py [--statements 3000] [--rounds 3]

Each round opens a session, runs `--statements` one-row SELECTs with a parameter through
`Raw` in its transaction, and prints the client CPU per statement (`time.process_time`), so
what `Raw` adds around asyncpg can be compared between revisions (run it from a worktree of
each, with nothing else running). Needs the local Postgres (`DATABASE_URL` or the default).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for src in ("shared/src",):
    if str(ROOT / src) not in sys.path:
        sys.path.insert(0, str(ROOT / src))

from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine  # noqa: E402

from shared.db.raw import Raw  # noqa: E402

URL = os.environ.get("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


async def main(statements: int, rounds: int) -> None:
    engine = create_async_engine(URL)
    try:
        for _ in range(rounds):
            async with AsyncSession(engine) as session:
                raw = Raw(session)
                await raw.fetchrow("SELECT $1::int AS x", 0)  # prepared, transaction begun
                started = time.process_time()
                for n in range(statements):
                    await raw.fetchrow("SELECT $1::int AS x", n)
                spent = time.process_time() - started
                await session.commit()
            print(f"{spent / statements * 1e6:.1f} us of CPU per statement")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(args.statements, args.rounds))
    else:
        uvloop.run(main(args.statements, args.rounds))
