"""Owner replies, from the API call to the request at the provider: latency, lost, doubled.

    .venv/bin/python bench/replies.py --quick      # this scenario alone
    .venv/bin/python bench/run.py --only replies    # the same, from the suite

Replies go to a loopback fake of the WhatsApp Cloud API (services/conversations/tests/
fakes.py) in this process; the conversations service is restarted pointing at it, with the
agent off so only the owners' replies reach it. Four owners, each with its own WhatsApp
number (the Cloud API allows 80 messages/s per number) and 25 conversations opened by signed
webhooks; then open-loop owner replies through the gateway at 50/s and 200/s, spread over
the 100 conversations. Latency is from the reply's scheduled send to its arrival at the
fake (wall clocks of one machine). Lost: a reply that never arrived; doubled: one that
arrived more than once. Target: p99 < 250 ms at 50/s, nothing lost or doubled.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stats import Target, latency_summary  # noqa: E402
from bench.system import META_SECRET, provider_fakes  # noqa: E402

if TYPE_CHECKING:
    from bench.run import Bench

OWNERS = 4
CONVERSATIONS_PER_OWNER = 25


def _restart_conversations(bench: Bench, env: dict[str, str]) -> None:
    system = bench.system
    process = system.processes["conversations"]
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    system.env = system.env | env
    system._spawn("conversations")
    system.wait_ready("conversations")
    if "conversations" in system.profile:
        system.processes["conversations"].send_signal(signal.SIGUSR1)


def _inbound(phone_number_id: str, visitor: str, n: int) -> bytes:
    message = {
        "from": visitor,
        "id": f"wamid.bench-in.{phone_number_id}.{n}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": "Hello, is Friday free?"},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
        "messages": [message],
    }
    change = {"field": "messages", "value": value}
    return json.dumps(
        {"object": "whatsapp_business_account", "entry": [{"id": "bench", "changes": [change]}]}
    ).encode()


async def _setup(bench: Bench, token: str) -> list[tuple[str, str]]:
    """(owner token, conversation id) for every conversation, each opened by its visitor."""
    assert bench.api is not None and bench.db is not None
    targets: list[tuple[str, str]] = []
    for o in range(OWNERS):
        owner = await bench.owner(f"replies{o}")
        await bench.wait_projected(owner["workspace_id"])
        auth = {"Authorization": f"Bearer {owner['token']}"}
        phone = f"bench-pn-{bench.tag}-{o}"
        r = await bench.api.post(
            "/api/v1/channel-accounts/",
            headers=auth,
            json={
                "channel": "whatsapp",
                "account_id": phone,
                "credentials": {"access_token": token},
            },
        )
        r.raise_for_status()
        for n in range(CONVERSATIONS_PER_OWNER):
            body = _inbound(phone, f"1555{o:02d}{n:05d}", n)
            digest = hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()
            r = await bench.api.post(
                "/api/v1/webhooks/whatsapp",
                content=body,
                headers={"X-Hub-Signature-256": f"sha256={digest}"},
            )
            r.raise_for_status()
        deadline = time.monotonic() + 60
        rows: list[Any] = []
        while time.monotonic() < deadline:
            rows = await bench.db.fetch(
                "SELECT id FROM conversations.conversations WHERE workspace_id = $1::uuid",
                owner["workspace_id"],
            )
            if len(rows) == CONVERSATIONS_PER_OWNER:
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("the bench conversations were not all opened")
        targets += [(owner["token"], str(row["id"])) for row in rows]
    return targets


def _requests(targets: list[tuple[str, str]], rate: int, total: int) -> list[dict[str, Any]]:
    out = []
    for i in range(total):
        token, conversation_id = targets[i % len(targets)]
        marker = f"bench-reply-{rate}-{i}"
        out.append(
            {
                "id": marker,
                "method": "POST",
                "path": "/api/v1/messages/",
                "headers": {
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                },
                "body": json.dumps(
                    {"conversation_id": conversation_id, "content": f"Yes, Friday works {marker}"}
                ),
            }
        )
    return out


async def _arrivals(state: Any, prefix: str, expected: int, timeout: float) -> Counter[str]:
    """Markers seen at the fake, once the count stops moving (or all arrived)."""
    deadline = time.monotonic() + timeout
    last, still = -1, 0
    seen: Counter[str] = Counter()
    while time.monotonic() < deadline:
        seen = Counter(
            body["text"]["body"].rsplit(" ", 1)[-1]
            for r in list(state.requests)
            if isinstance(body := r.body, dict) and prefix in str(body.get("text", {}))
        )
        total = sum(seen.values())
        if total >= expected:
            still += 1
            if still >= 10:  # half a second more, to catch doubles
                return seen
        elif total == last:
            still += 1
            if still >= 200:  # ten seconds without progress
                return seen
        else:
            still = 0
        last = total
        await asyncio.sleep(0.05)
    return seen


async def replies(bench: Bench) -> None:
    fakes = provider_fakes()
    state = fakes.FakeState()
    server = fakes.FakeServer(fakes.graph_app(state), state).start()
    try:
        # Four owners send up to 50 replies/s each here, far beyond what one business may
        # send in production (OWNER_REPLIES_PER_WORKSPACE_PER_MINUTE): lift that limit.
        env = {
            "GRAPH_API_BASE_URL": server.url,
            "AGENT_ENABLED": "false",
            "OWNER_REPLIES_PER_WORKSPACE_PER_MINUTE": "1000000",
        }
        _restart_conversations(bench, env)
        targets = await _setup(bench, fakes.WHATSAPP_TOKEN)
        duration = 3.0 if bench.p.quick else 10.0
        for rate in (50, 200):
            total = int(rate * duration)
            stream = bench.stream(
                f"replies_{rate}",
                "open",
                bench.system.url("gateway"),
                {"kind": "static", "requests": _requests(targets, rate, total)},
                rate=rate,
                duration=duration,
                record=True,
                connections=64,
            )
            cpu_before = bench.system.cpu()
            result = await bench.load(f"replies_{rate}", [stream])
            s = result["streams"][f"replies_{rate}"]
            scheduled = {rec[0]: rec[1] for rec in s["records"] if rec[2] == 201}
            seen = await _arrivals(state, f"bench-reply-{rate}-", len(scheduled), 240)
            cpu_after = bench.system.cpu()
            first_arrival: dict[str, float] = {}
            for r in list(state.requests):
                text = str((r.body or {}).get("text", {}).get("body", ""))
                marker = text.rsplit(" ", 1)[-1]
                if marker in scheduled and marker not in first_arrival:
                    first_arrival[marker] = r.wall
            latency = latency_summary(
                first_arrival[m] - scheduled[m] for m in scheduled if m in first_arrival
            )
            lost = sum(1 for m in scheduled if m not in seen)
            doubled = sum(1 for n in seen.values() if n > 1)
            refused = sum(v for k, v in s["statuses"].items() if k != "201")
            statuses = ", ".join(f"{k}: {v}" for k, v in sorted(s["statuses"].items()))
            note = f"{total} replies over {len(targets)} conversations, 4 numbers ({statuses})"
            group = "replies"
            target = Target("<", 250) if rate == 50 else None
            bench.add(group, f"reply_to_provider_{rate}_p50_ms", latency["p50_ms"], "ms", note=note)
            bench.add(group, f"reply_to_provider_{rate}_p99_ms", latency["p99_ms"], "ms", target)
            bench.add(
                group, f"reply_api_{rate}_p99_ms", latency_summary(s["latencies"])["p99_ms"], "ms"
            )
            bench.add(group, f"replies_{rate}_lost", lost, "count", Target("==", 0))
            bench.add(group, f"replies_{rate}_doubled", doubled, "count", Target("==", 0))
            bench.add(group, f"replies_{rate}_refused", refused, "count", Target("==", 0))
            for service in ("conversations", "gateway"):
                used = cpu_after[service] - cpu_before[service]
                bench.add(
                    group,
                    f"replies_{rate}_{service}_cpu_ms_per_reply",
                    used / max(1, len(scheduled)) * 1000,
                    "ms",
                    note="API call, outbox, relay, delivery and receipt bookkeeping",
                )
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    from bench import run

    args = list(sys.argv[1:] if argv is None else argv)
    return run.main(["--only", "replies", *args])


if __name__ == "__main__":
    sys.exit(main())
