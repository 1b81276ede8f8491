"""A consumer process that dies right after committing its effect, before it can ack.

Run by `test_consumer.py`; settings come from the environment like a real service.
"""

from __future__ import annotations

import asyncio
import os
import sys

from shared.bus import Bus
from shared.db import make_engine, make_sessionmaker
from shared.events import Envelope, UserCreatedV1
from shared.settings import ServiceSettings

sys.path.insert(0, os.path.dirname(__file__))
from effects import counting_handler


async def main() -> None:
    settings = ServiceSettings()
    engine = make_engine(settings.database_url, pool_size=2)
    handler = counting_handler(make_sessionmaker(engine), "crashtest")

    async def crash_after_commit(envelope: Envelope) -> None:
        await handler(envelope)
        os._exit(17)  # hard crash: no ack, no clean shutdown

    bus = Bus(settings, "crashtest")
    bus.subscribe(UserCreatedV1, crash_after_commit)
    await bus.start()
    print("ready", flush=True)
    await asyncio.sleep(60)


if __name__ == "__main__":
    asyncio.run(main())
