"""`python -m conversations.reencrypt`: re-encrypt every channel account's credentials (and
inbound signing secret) with
the newest key of CONNECTOR_ENCRYPTION_KEYS (the same keys and procedure as
`connectors.reencrypt`): put the new key first, keep the old ones, run this, then remove
the old keys once it reports success. Safe next to a running service, and repeatable.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from conversations.db.models import ChannelAccount
from conversations.settings import Settings
from shared.crypto import Vault
from shared.db import make_engine, make_sessionmaker
from shared.db.reencrypt import reencrypt_column

log = logging.getLogger("conversations.reencrypt")


async def main_async(settings: Settings) -> int:
    engine = make_engine(
        settings.database_url, pool_size=2, application_name="conversations-reencrypt"
    )
    try:
        sessionmaker, vault = make_sessionmaker(engine), Vault(settings.encryption_keys)
        count = 0
        # The credentials, and the integrators' inbound signing secrets.
        for column in (
            ChannelAccount.credentials_encrypted,
            ChannelAccount.inbound_secret_encrypted,
        ):
            count += await reencrypt_column(sessionmaker, vault, ChannelAccount.id, column)
        return count
    finally:
        await engine.dispose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    count = asyncio.run(main_async(Settings()))
    log.info("re-encrypted %d channel account secrets with the newest key", count)
    print(f"re-encrypted {count} channel account secrets")


if __name__ == "__main__":
    main()
    sys.exit(0)
