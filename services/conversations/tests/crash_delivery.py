"""A delivery consumer that dies after the provider answered and before it records that.

Run by `test_delivery_exactly_once.py`; settings come from the environment like a real
service (its own exchange and queue prefix, so only this process holds the message).
"""

from __future__ import annotations

import asyncio
import os
from types import SimpleNamespace
from typing import Any

from conversations.delivery.service import Delivery
from conversations.events.subscribers import register_delivery
from conversations.settings import Settings
from shared.bus import Bus
from shared.crypto import Vault
from shared.db import make_engine, make_sessionmaker


async def main() -> None:
    settings = Settings()
    engine = make_engine(settings.database_url, pool_size=2)
    delivery = Delivery(settings, make_sessionmaker(engine), Vault(settings.encryption_keys))

    async def crash_before_recording(*_: Any, **__: Any) -> None:
        os._exit(17)  # hard crash: the provider has the message, our row still says sending

    delivery._finish = crash_before_recording  # type: ignore[method-assign]
    bus = Bus(settings, "conversations")
    register_delivery(SimpleNamespace(bus=bus), delivery)  # type: ignore[arg-type]
    await bus.start()
    print("ready", flush=True)
    await asyncio.sleep(60)


if __name__ == "__main__":
    asyncio.run(main())
