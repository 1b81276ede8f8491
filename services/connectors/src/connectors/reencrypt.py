"""`python -m connectors.reencrypt`: re-encrypt every connector's config with the newest key.

Run it after putting a new key first in CONNECTOR_ENCRYPTION_KEYS (keeping the old ones);
once it reports success, the old keys can be removed. Rows are locked and rewritten in
small batches, so it is safe next to a running service and can be run again.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.db.models import Connector
from connectors.settings import Settings
from shared.crypto import Vault
from shared.db import make_engine, make_sessionmaker
from shared.db.reencrypt import reencrypt_column

log = logging.getLogger("connectors.reencrypt")


async def reencrypt_all(
    sessionmaker: async_sessionmaker[AsyncSession], vault: Vault, batch_size: int = 100
) -> int:
    """Rewrite every row under the newest key; returns how many rows were rewritten."""
    return await reencrypt_column(
        sessionmaker, vault, Connector.id, Connector.config_encrypted, batch_size
    )


async def main_async(settings: Settings) -> int:
    engine = make_engine(
        settings.database_url, pool_size=2, application_name="connectors-reencrypt"
    )
    try:
        return await reencrypt_all(make_sessionmaker(engine), Vault(settings.encryption_keys))
    finally:
        await engine.dispose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    count = asyncio.run(main_async(Settings()))
    log.info("re-encrypted %d connector configurations with the newest key", count)
    print(f"re-encrypted {count} connectors")


if __name__ == "__main__":
    main()
    sys.exit(0)
