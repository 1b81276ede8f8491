"""The agent turn under load: a visitor message at the gateway to the agent's stored reply,
with the built-in agent and the built-in calendar.

    .venv/bin/python bench/agent.py --quick     # this scenario alone
    .venv/bin/python bench/run.py --only agent   # the same, from the suite

The suite's conversations service runs without the agent (AGENT_ENABLED=false, so the other
scenarios measure what they always did); this scenario starts one more conversations
replica with the agent on and no quiet period (AGENT_BURST_SECONDS=0: on this channel the
0.8 s default would be most of the latency; web chat answers at once unless the visitor
types). New conversations arrive at 20 per second through the gateway's signed
integrator webhook (`/webhooks/inbound/chatgpt`, so no web chat rate limit applies); each
visitor says "hi" (the agent greets and offers three times from the calendar), once
answered "1" (this channel gives no name or phone, so the agent asks for them), then its
name and e-mail (the agent re-checks the time and books it with them). Latency per turn =
the reply's `created_at` in Postgres minus the moment the visitor's webhook was sent (same
clock); targets p50 < 300 ms and p99 < 1 s. CPU per turn: the agent replica, both
conversations processes, the gateway and connectors, over the turns answered (target
<= 15 ms across all of them). Before the load, ten web chat visitors one after another
measure the idle web chat (post to the answer on the visitor's live stream through the
gateway; target p95 < 400 ms); after it, the agent replica's memory (target < 200 MB).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.calendar_bench import _calendar  # noqa: E402
from bench.stats import Target, latency_summary, percentile  # noqa: E402
from bench.system import cpu_seconds, free_port, rss_mb  # noqa: E402

if TYPE_CHECKING:
    from bench.run import Bench

RATE = int(os.environ.get("BENCH_AGENT_RATE", "20"))  # new conversations per second
WEBCHAT_CONVERSATIONS = 10  # idle web chat, before the load: two turns each


def _signed(account: dict[str, Any], visitor: str, text: str) -> tuple[bytes, dict[str, str]]:
    """Signed with the channel account's own secret, as an integrator does."""
    body = json.dumps(
        {
            "messages": [
                {
                    "external_id": f"bench-{uuid.uuid4().hex}",
                    "visitor_id": visitor,
                    "content": text,
                    "sent_at": datetime.now(UTC).isoformat(),
                }
            ],
        }
    ).encode()
    ts = str(int(time.time()))
    secret = account["inbound_signing_secret"]
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256)
    headers = {
        "X-Base-Account": account["id"],
        "X-Base-Timestamp": ts,
        "X-Base-Signature": f"sha256={digest.hexdigest()}",
        "Content-Type": "application/json",
    }
    return body, headers


def _agent_replica(bench: Bench) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = bench.system.env | {
        "AGENT_ENABLED": "true",
        "AGENT_BURST_SECONDS": "0",
        "CONVERSATIONS_PORT": str(port),
        "RUN_RELAY": "true",
    }
    log = open(bench.system.logs / "conversations-agent.log", "ab")  # noqa: SIM115
    command = [sys.executable, "-m", "conversations"]
    if os.environ.get("BENCH_AGENT_PROFILE"):  # a pyinstrument profile of the agent replica
        prefix = bench.system.logs / "conversations-agent-profile"
        command = [
            sys.executable,
            str(ROOT / "bench" / "profiled.py"),
            "conversations",
            str(prefix),
        ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    return process, port


async def _ready(port: int, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"http://127.0.0.1:{port}/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the agent replica did not get ready")


async def agent(bench: Bench) -> None:
    import httpx

    assert bench.api is not None and bench.db is not None
    quick = bench.p.quick
    seconds = 3.0 if quick else 12.0
    owner = await bench.owner("agent")
    headers = {"Authorization": f"Bearer {owner['token']}"}
    await _calendar(bench.api, headers)
    account_id = f"bench-agent-{bench.tag}"
    account: dict[str, Any] = {}

    async def connected() -> bool:
        r = await bench.api.post(
            "/api/v1/channel-accounts/",
            headers=headers,
            json={"channel": "chatgpt", "account_id": account_id},
        )
        if r.status_code == 201:
            account.update(r.json())
        return r.status_code == 201

    deadline = time.monotonic() + 30
    while not await connected():
        if time.monotonic() > deadline:
            raise RuntimeError("the workspace never reached conversations")
        await asyncio.sleep(0.1)
    workspace_id = uuid.UUID(owner["workspace_id"])
    # The agent's projections (service, active calendar) are fed by events.
    for _ in range(600):
        if await bench.db.fetchval(
            "SELECT 1 FROM conversations.connector_states WHERE workspace_id = $1 AND active",
            workspace_id,
        ):
            break
        await asyncio.sleep(0.05)

    replica, port = _agent_replica(bench)
    try:
        await _ready(port)
        if os.environ.get("BENCH_AGENT_PROFILE"):
            replica.send_signal(signal.SIGUSR1)
        idle = sorted(1000 * s for s in await _webchat_idle(bench, f"agent-{bench.tag}", httpx))
        bench.add(
            "agent",
            "webchat_idle_reply_p95_ms",
            round(percentile(idle, 95), 1),
            "ms",
            Target("<", 400),
            note=f"{WEBCHAT_CONVERSATIONS} web chats one after another through the gateway, "
            f"post to the answer on the visitor's live stream; p50 {percentile(idle, 50):.0f} ms",
        )
        await _run(bench, workspace_id, account, seconds, replica.pid, httpx)
        bench.add(
            "agent",
            "replica_rss_mb",
            round(rss_mb(replica.pid), 1),
            "MB",
            Target("<", 200),
            note="the agent replica after the run: conversations with the agent's libraries",
        )
    finally:
        replica.terminate()
        try:
            replica.wait(timeout=30)
        except subprocess.TimeoutExpired:
            replica.kill()


async def _webchat_idle(bench: Bench, handle: str, httpx: Any) -> list[float]:
    """A visitor on the web chat, as the page does it: open a chat and its live stream, say
    "hi", then "1", each time waiting for the agent's answer on the stream. Seconds from each
    post to the answer, one visitor after another on an otherwise idle system."""
    from shared.testing import EventStream

    latencies: list[float] = []
    timeout = httpx.Timeout(10, read=None)
    async with httpx.AsyncClient(base_url=bench.system.url("gateway"), timeout=timeout) as api:
        for _ in range(WEBCHAT_CONVERSATIONS):
            opened = await api.post(f"/api/v1/public/workspaces/{handle}/conversations")
            opened.raise_for_status()
            chat = opened.json()
            conversation, token = chat["conversation_id"], chat["visitor_token"]
            async with api.stream(
                "GET",
                f"/api/v1/public/conversations/{conversation}/events",
                params={"token": token},
            ) as response:
                response.raise_for_status()
                stream = EventStream(response)
                if (await stream.next())["event"] != "ready":
                    raise RuntimeError("the live stream did not start with 'ready'")
                for text in ("hi", "1"):
                    started = time.perf_counter()
                    sent = await api.post(
                        f"/api/v1/public/conversations/{conversation}/messages",
                        json={"content": text},
                        headers={"X-Visitor-Token": token},
                    )
                    sent.raise_for_status()
                    while (await stream.next(timeout=10))["json"].get("role") != "agent":
                        pass
                    latencies.append(time.perf_counter() - started)
    return latencies


async def _run(
    bench: Bench,
    workspace_id: uuid.UUID,
    account: dict[str, Any],
    seconds: float,
    pid: int,
    httpx: Any,
) -> None:
    replies: dict[str, list[datetime]] = {}
    waiting: dict[str, asyncio.Event] = {}
    latencies: list[float] = []
    errors = {"webhook": 0, "timeout": 0}
    started_at = datetime.now(UTC)
    done = asyncio.Event()

    async def poll() -> None:
        """One reader of the agent's replies for every conversation (not one per visitor).
        By id, not by a created_at watermark: transactions commit out of created_at order."""
        seen: set[uuid.UUID] = set()
        while not done.is_set():
            rows = await bench.db.fetch(  # type: ignore[union-attr]
                "SELECT m.id, c.visitor_id, m.created_at FROM conversations.messages m "
                "JOIN conversations.conversations c ON c.id = m.conversation_id "
                "WHERE m.workspace_id = $1 AND m.role = 'agent' AND m.created_at > $2 "
                "ORDER BY m.created_at",
                workspace_id,
                started_at,
            )
            for message_id, visitor, at in rows:
                if message_id in seen:
                    continue
                seen.add(message_id)
                replies.setdefault(visitor, []).append(at)
                if visitor in waiting:
                    waiting[visitor].set()
            await asyncio.sleep(0.01)

    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(
        base_url=bench.system.url("gateway"), limits=limits, timeout=30
    ) as api:

        async def turn(visitor: str, text: str, number: int) -> None:
            waiting[visitor] = asyncio.Event()
            sent = datetime.now(UTC)
            body, headers = _signed(account, visitor, text)
            r = await api.post("/api/v1/webhooks/inbound/chatgpt", content=body, headers=headers)
            if r.status_code not in (200, 204):
                errors["webhook"] += 1
                return
            try:
                while len(replies.get(visitor, [])) < number:
                    await asyncio.wait_for(waiting[visitor].wait(), timeout=10)
                    waiting[visitor].clear()
            except TimeoutError:
                errors["timeout"] += 1
                return
            latencies.append((replies[visitor][number - 1] - sent).total_seconds())

        async def conversation(i: int) -> None:
            visitor = f"bench-{i}-{uuid.uuid4().hex[:6]}"
            await turn(visitor, "hi", 1)
            await turn(visitor, "1", 2)
            await turn(visitor, f"I'm Ana {i}, ana{i}@example.com", 3)

        poller = asyncio.create_task(poll())
        pids = bench.system.pids() | {"conversations-agent": pid}
        before = {name: cpu_seconds(p) for name, p in pids.items()}
        began = time.perf_counter()
        tasks = []
        n = int(seconds * RATE)
        for i in range(n):
            tasks.append(asyncio.create_task(conversation(i)))
            await asyncio.sleep(max(0.0, began + (i + 1) / RATE - time.perf_counter()))
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - began
        after = {name: cpu_seconds(p) for name, p in pids.items()}
        done.set()
        await poller

    turns = len(latencies)
    # The load's conversations only (the integrator channel), not the idle web chats before it.
    booked = await bench.db.fetchval(  # type: ignore[union-attr]
        "SELECT count(*) FROM conversations.conversations WHERE workspace_id = $1 "
        "AND channel = 'chatgpt' AND agent_booking IS NOT NULL",
        workspace_id,
    )
    doubled = await bench.db.fetchval(  # type: ignore[union-attr]
        "SELECT count(*) FROM (SELECT start_at FROM connectors.bookings "
        "WHERE workspace_id = $1 AND status = 'confirmed' GROUP BY start_at "
        "HAVING count(*) > 1) AS twice",
        workspace_id,
    )
    stored = await bench.db.fetch(  # type: ignore[union-attr]
        "SELECT m.role, count(*) AS n FROM conversations.messages m "
        "WHERE m.workspace_id = $1 AND m.channel = 'chatgpt' GROUP BY 1",
        workspace_id,
    )
    handoffs = await bench.db.fetch(  # type: ignore[union-attr]
        "SELECT handoff_reason, count(*) AS n FROM conversations.conversations "
        "WHERE workspace_id = $1 AND channel = 'chatgpt' GROUP BY 1",
        workspace_id,
    )
    summary = latency_summary(latencies)
    cpu = {name: round(after[name] - before[name], 2) for name in after}
    per_turn = {name: round(1000 * v / max(turns, 1), 2) for name, v in cpu.items()}
    bench.details["agent"] = {
        "conversations": n,
        "turns_answered": turns,
        "bookings": booked,
        "errors": errors,
        "messages_by_role": {r["role"]: r["n"] for r in stored},
        "handoff_reasons": {str(r["handoff_reason"]): r["n"] for r in handoffs},
        "wall_seconds": round(wall, 2),
        "cpu_seconds": cpu,
        "cpu_ms_per_turn": per_turn,
    }
    print(f"   agent details: {json.dumps(bench.details['agent'])}", file=sys.stderr)
    note = f"{RATE} new conversations/s, three turns each, built-in agent and calendar"
    bench.add("agent", "turn_p50_ms", summary["p50_ms"], "ms", Target("<", 300), note=note)
    bench.add("agent", "turn_p99_ms", summary["p99_ms"], "ms", Target("<", 1000))
    bench.add(
        "agent", "turns_unanswered", errors["timeout"] + errors["webhook"], "count", Target("==", 0)
    )
    # Every visitor answers "1", the first time offered, at nearly the same moment: one of
    # those racing for a time gets it, the others are told it was just taken and offered
    # others. So bookings are fewer than conversations by design; what must hold is that no
    # time is booked twice.
    bench.add(
        "agent",
        "bookings",
        booked,
        "count",
        note=f"of {n} conversations that all chose the first time offered",
    )
    bench.add("agent", "times_booked_twice", doubled, "count", Target("==", 0))
    agent_cpu = per_turn["conversations-agent"] + per_turn.get("conversations", 0.0)
    bench.add(
        "agent",
        "cpu_ms_per_turn",
        agent_cpu,
        "ms",
        note="both conversations processes (agent, storing, delivery); the rest in details",
    )
    bench.add(
        "agent",
        "cpu_ms_per_turn_all_processes",
        round(sum(per_turn.values()), 2),
        "ms",
        Target("<=", 15),
        note="agent replica, conversations, gateway, connectors, workspaces",
    )


def main(argv: list[str] | None = None) -> int:
    from bench import run

    os.environ.setdefault("AGENT_ENABLED", "false")
    args = list(sys.argv[1:] if argv is None else argv)
    return run.main(["--only", "agent", *args])


if __name__ == "__main__":
    sys.exit(main())
