"""One confirmed publish, in process: aiormq (what aio-pika and FastStream run on) against
`shared.confirms.ConfirmChannel`, the client CPU per publish and the rate.

    .venv/bin/python bench/publish.py                    # one at a time, as a webhook waits
    .venv/bin/python bench/publish.py --concurrency 4    # four in flight, as under load

Each publish is persistent and mandatory, with a 600-byte JSON body and the headers an event
carries, to a quorum queue of its own (deleted afterwards); the two clients alternate, twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiormq  # noqa: E402
from pamqp.commands import Basic  # noqa: E402

from bench.system import rabbitmq_url  # noqa: E402
from shared.confirms import ConfirmChannel, Message  # noqa: E402

EXCHANGE, QUEUE, KEY = "bench.publish", "bench.publish.q", "k"
BODY = json.dumps({"payload": "x" * 600}).encode()
HEADERS: dict[str, str | int] = {"event_type": "bench.event", "version": 1}


async def measure(
    publish: Callable[[], Awaitable[None]], count: int, concurrency: int
) -> tuple[float, float]:
    """(client CPU microseconds per publish, publishes per second) after a warm-up."""

    async def worker(n: int) -> None:
        for _ in range(n):
            await publish()

    await worker(200)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(count // concurrency) for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / count * 1e6, count / wall


async def main(count: int, concurrency: int) -> None:
    url = rabbitmq_url()
    connection = await aiormq.connect(url)
    setup = await connection.channel()
    await setup.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    await setup.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    await setup.queue_bind(QUEUE, EXCHANGE, routing_key=KEY)
    confirming = await connection.channel(publisher_confirms=True)
    ours = ConfirmChannel(url, name="bench-publish")

    async def through_aiormq() -> None:
        properties = Basic.Properties(
            content_type="application/json",
            delivery_mode=2,
            priority=0,
            message_id=uuid.uuid4().hex,
            correlation_id="bench",
            message_type="bench.event",
            headers=dict(HEADERS),
        )
        await confirming.basic_publish(
            BODY, exchange=EXCHANGE, routing_key=KEY, properties=properties, mandatory=True,
            timeout=5, wait=False,
        )  # fmt: skip

    async def through_confirms() -> None:
        message = Message(BODY, KEY, uuid.uuid4().hex, "bench", "bench.event", HEADERS)
        await ours.publish(message, exchange=EXCHANGE, mandatory=True)

    try:
        for name, publish in [("aiormq", through_aiormq), ("confirms", through_confirms)] * 2:
            cpu_us, rate = await measure(publish, count, concurrency)
            print(
                f"{name:9} {concurrency} at a time: {cpu_us:6.1f} us CPU per publish, {rate:6.0f}/s"
            )
    finally:
        await ours.close()
        await setup.queue_delete(QUEUE)
        await setup.exchange_delete(EXCHANGE)
        await connection.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.count, args.concurrency))
