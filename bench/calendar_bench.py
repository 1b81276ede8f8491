"""The built-in calendar under load: a month of availability over a busy calendar, and the
race of 50 visitors for one slot.

    .venv/bin/python bench/calendar_bench.py --quick     # this scenario alone
    .venv/bin/python bench/run.py --only calendar         # the same, from the suite

(Not `bench/calendar.py`: scripts in bench/ have that directory first on sys.path, and a
module named `calendar` there would replace the standard library's, which httpx imports.)

Everything goes through the gateway, as the agent and a frontend call it: an owner with one
30-minute service and a built-in calendar open every day 08:00-20:00, 500 confirmed
bookings spread over the next 30 days (of 720 half-hour starts), then
- one availability request for the whole month (31 days) at a time, closed loop on one
  connection, by the load generator: p50/p99;
- rounds of 50 concurrent booking attempts at one free slot: exactly one 201 and 49 409s
  per round is the target, and attempts per second the throughput.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stats import Target, latency_summary, percentile  # noqa: E402

if TYPE_CHECKING:
    from bench.run import Bench

ZONE = "Europe/Madrid"  # what Bench.owner gives every workspace
BOOKINGS = 500
DAYS = 30
RACERS = 50
CONFIG = {
    "provider": "builtin",
    "weekly_hours": {
        d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    },
    "min_notice_minutes": 0,
    "max_days_ahead": 60,
    "slot_step_minutes": 30,
}


async def _until(what: str, attempt: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await attempt()
        if result is not None:
            return result
        await asyncio.sleep(0.05)
    raise RuntimeError(f"gave up waiting for {what}")


async def _calendar(api: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """A service and an active built-in calendar; returns the service's event type id."""
    r = await api.post(
        "/api/v1/workspace-services/",
        headers=headers,
        json={"name": "Consultation", "duration_minutes": 30},
    )
    r.raise_for_status()

    async def created() -> dict[str, Any] | None:
        body = {"name": "Calendar", "config": CONFIG}
        r = await api.post("/api/v1/connectors/", headers=headers, json=body)
        return None if r.status_code == 409 else r.raise_for_status().json()

    connector = await _until("the workspace to reach connectors", created)
    r = await api.post(f"/api/v1/connectors/{connector['id']}/activate", headers=headers)
    r.raise_for_status()

    async def event_type() -> str | None:
        r = await api.get("/api/v1/connectors/active/event-types", headers=headers)
        data = r.json().get("data") if r.status_code == 200 else None
        return data[0]["id"] if data else None

    return str(await _until("the service to reach connectors", event_type))


def _starts(first_day: Any) -> list[str]:
    """Every half-hour start of the month, local wall time, as the API answers them."""
    zone = ZoneInfo(ZONE)
    out = []
    for d in range(DAYS):
        day = first_day + timedelta(days=d)
        for half_hour in range(24):
            at = datetime(day.year, day.month, day.day, 8, tzinfo=zone)
            out.append((at + timedelta(minutes=30 * half_hour)).isoformat())
    return out


async def _fill(
    api: httpx.AsyncClient, headers: dict[str, str], event_type: str, starts: list[str]
) -> None:
    queue = list(starts)

    async def worker() -> None:
        while queue:
            start = queue.pop()
            body = {"event_type": event_type, "start": start, "name": "Bench visitor"}
            r = await api.post("/api/v1/connectors/active/bookings", headers=headers, json=body)
            if r.status_code != 201:
                raise RuntimeError(f"seeding a booking answered {r.status_code}: {r.text[:200]}")

    await asyncio.gather(*(worker() for _ in range(8)))


async def calendar(bench: Bench) -> None:
    assert bench.api is not None
    quick = bench.p.quick
    owner = await bench.owner("calendar")
    headers = {"Authorization": f"Bearer {owner['token']}"}
    api = bench.api
    event_type = await _calendar(api, headers)

    first_day = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=1)
    every = _starts(first_day)
    booked = set(random.Random(20261201).sample(every, BOOKINGS))
    started = time.perf_counter()
    await _fill(api, headers, event_type, sorted(booked))
    fill_seconds = time.perf_counter() - started
    free = [s for s in every if s not in booked]

    last_day = first_day + timedelta(days=DAYS)
    path = (
        f"/api/v1/connectors/active/availability?event_type={event_type}"
        f"&start={first_day.isoformat()}&end={last_day.isoformat()}"
    )
    probe = await api.get(path, headers=headers)
    probe.raise_for_status()
    offered = probe.json()["count"]
    result = await bench.load(
        "calendar",
        [
            bench.stream(
                "availability",
                "closed",
                bench.system.url("gateway"),
                {
                    "kind": "static",
                    "requests": [{"method": "GET", "path": path, "headers": headers}],
                },
                duration=bench.p.latency_seconds,
                warmup=bench.p.warmup,
                connections=1,
            )
        ],
    )
    s = result["streams"]["availability"]
    summary = latency_summary(s["latencies"])
    note = f"31 days, {BOOKINGS} bookings, {offered} free slots, one connection"
    bench.add("calendar", "availability_month_p50_ms", summary["p50_ms"], "ms", note=note)
    bench.add("calendar", "availability_month_p99_ms", summary["p99_ms"], "ms", Target("<", 500))
    errors = sum(v for k, v in s["statuses"].items() if k != "200")
    bench.add("calendar", "availability_errors", errors, "count", Target("==", 0))

    # The race: 50 visitors, one slot, over 50 connections at once.
    rounds = 5 if quick else 20
    targets = random.Random(7).sample(free, rounds)
    statuses: dict[str, int] = {}
    round_times: list[float] = []
    wins: list[int] = []
    cpu_before = bench.system.cpu()
    limits = httpx.Limits(max_connections=RACERS, max_keepalive_connections=RACERS)
    async with httpx.AsyncClient(
        base_url=bench.system.url("gateway"), limits=limits, timeout=60
    ) as racers:
        for start in targets:
            body = {"event_type": event_type, "start": start, "name": "Racer"}
            began = time.perf_counter()
            answers = await asyncio.gather(
                *(
                    racers.post("/api/v1/connectors/active/bookings", headers=headers, json=body)
                    for _ in range(RACERS)
                )
            )
            round_times.append(time.perf_counter() - began)
            for a in answers:
                statuses[str(a.status_code)] = statuses.get(str(a.status_code), 0) + 1
            wins.append(sum(1 for a in answers if a.status_code == 201))
    total = sum(round_times)
    cpu_after = bench.system.cpu()
    attempts = RACERS * rounds
    for service in ("connectors", "gateway"):
        used = (cpu_after[service] - cpu_before[service]) / attempts * 1000
        bench.add("calendar", f"race_{service}_cpu_ms_per_attempt", used, "ms")
    bench.details["calendar"] = {
        "fill_seconds": round(fill_seconds, 2),
        "availability_statuses": s["statuses"],
        "race_statuses": statuses,
        "race_wins_per_round": wins,
    }
    race_note = f"{rounds} rounds of {RACERS} concurrent attempts at one slot"
    bench.add("calendar", "race_attempts_per_s", attempts / total, "/s", note=race_note)
    bench.add("calendar", "race_round_p50_ms", percentile(round_times, 50) * 1000, "ms")
    bench.add(
        "calendar",
        "race_rounds_not_exactly_one_booking",
        sum(1 for w in wins if w != 1),
        "count",
        Target("==", 0),
    )
    unexpected = sum(v for k, v in statuses.items() if k not in ("201", "409"))
    bench.add("calendar", "race_unexpected_answers", unexpected, "count", Target("==", 0))
    bench.add("calendar", "booking_fill_rps", BOOKINGS / fill_seconds, "/s", note="8 connections")


def main(argv: list[str] | None = None) -> int:
    from bench import run

    args = list(sys.argv[1:] if argv is None else argv)
    return run.main(["--only", "calendar", *args])


if __name__ == "__main__":
    sys.exit(main())
