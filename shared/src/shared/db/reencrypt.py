"""Re-encrypt one encrypted column of a table under the Vault's newest key.

Run by each service's `python -m <service>.reencrypt` after a new key is put first in
CONNECTOR_ENCRYPTION_KEYS (the old ones kept); once it reports success the old keys can be
removed. Rows are locked and rewritten in small batches, so it is safe next to a running
service and can be run again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from shared.crypto import Vault


async def reencrypt_column(
    sessionmaker: async_sessionmaker[AsyncSession],
    vault: Vault,
    key: InstrumentedAttribute[Any],
    column: InstrumentedAttribute[Any],
    batch_size: int = 100,
) -> int:
    """Rewrite every non-null value of `column` (rows ordered by `key`); returns how many."""
    model = column.class_
    done = 0
    last = None
    while True:
        async with sessionmaker() as session, session.begin():
            stmt = (
                select(model)
                .where(column.is_not(None))
                .order_by(key)
                .limit(batch_size)
                .with_for_update()
            )
            if last is not None:
                stmt = stmt.where(key > last)
            rows = list((await session.execute(stmt)).scalars())
            if not rows:
                return done
            for row in rows:
                setattr(row, column.key, vault.rotate(getattr(row, column.key)))
            done += len(rows)
            last = getattr(rows[-1], key.key)
