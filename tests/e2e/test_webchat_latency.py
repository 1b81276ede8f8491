"""How soon a web chat visitor who is not typing sees the agent's answer, through the
gateway: from the moment their message is posted to the reply arriving on their live stream.
The agent answers at once when nobody types (it used to wait 2 s for more messages)."""

from __future__ import annotations

import statistics
import time

import httpx

from .conftest import System, events
from .test_agent import _agent_knows, _bookable_shop

API = "/api/v1"
CONVERSATIONS = 10  # two turns each ("hi", then "1" books the first time offered)


async def test_an_idle_visitor_sees_the_agents_answer_well_within_a_second(
    system: System, api: httpx.AsyncClient
) -> None:
    shop = await _bookable_shop(api)
    await _agent_knows(api, shop["headers"])
    handle = shop["workspace"]["handle"]
    latencies: list[float] = []
    for _ in range(CONVERSATIONS):
        opened = await api.post(f"{API}/public/workspaces/{handle}/conversations")
        assert opened.status_code == 201, opened.text
        conversation_id, token = opened.json()["conversation_id"], opened.json()["visitor_token"]
        url = f"{system.gateway}{API}/public/conversations/{conversation_id}/events"
        async with events(url, params={"token": token}) as stream:
            assert (await stream.next())["event"] == "ready"
            for text in ("hi", "1"):
                started = time.perf_counter()
                sent = await api.post(
                    f"{API}/public/conversations/{conversation_id}/messages",
                    json={"content": text},
                    headers={"X-Visitor-Token": token},
                )
                assert sent.status_code == 201, sent.text
                while True:
                    event = await stream.next(timeout=10)
                    if event["json"].get("role") == "agent":
                        break
                latencies.append(time.perf_counter() - started)
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(
        f"web chat reply seen by the visitor, {len(ordered)} turns: p50 {p50 * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms; in order (ms): "
        f"{[round(x * 1000) for x in latencies]}"
    )
    assert p95 < 1.0  # the old wait alone was 2 s; the target is p95 < 400 ms on a quiet host
