"""Benchmarks of the whole system on this machine (`make bench`).

    .venv/bin/python bench/run.py                 # full run (about 9 minutes)
    .venv/bin/python bench/run.py --quick         # short smoke run (about 1 minute)
    .venv/bin/python bench/run.py --compare bench/results.baseline.json
    .venv/bin/python bench/run.py --only inbound --profile conversations,gateway

Starts the four services itself (database `base_bench`, recreated on every run; exchange
`bench.events` and queues `bench.*`), drives them over loopback from a load generator in a
separate process (bench/load.py), prints a table and writes bench/results.json. Every figure
is a ratio or a percentile measured in this run; the machine is recorded next to them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from bench import stats  # noqa: E402
from bench.stats import Target, figure, latency_summary, percentile  # noqa: E402
from bench.system import (  # noqa: E402
    EXCHANGE,
    META_SECRET,
    QUEUE_PREFIX,
    SECRET_KEY,
    SERVICES,
    System,
    machine_cpu,
    provider_fakes,
    rabbitmq_url,
)
from shared.settings import plain_database_url  # noqa: E402
from shared.tokens import Principal, audience_key, sign_internal_token  # noqa: E402

CPU_COLUMNS = (*SERVICES, "postgres", "rabbitmq", "generator", "machine")
SCENARIOS = (
    "memory",
    "login",
    "overhead",
    "owner_api",
    "propagation",
    "inbound",
    "relay",
    "calendar",
    "agent",
    "replies",
)
PASSWORD = "bench-password-123"  # a throwaway account in the bench database


class Params:
    """Durations and rates of a full run, or of a short smoke run."""

    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.warmup = 1.0 if quick else 2.0
        self.throughput_seconds = 3.0 if quick else 12.0
        self.latency_seconds = 3.0 if quick else 12.0
        self.owners = 8 if quick else 32
        self.login_seconds = 4.0 if quick else 20.0
        self.read_rate = 100
        self.propagation_rate = 200
        self.propagation_seconds = 5.0 if quick else 60.0
        self.propagation_light_seconds = 5.0 if quick else 20.0
        self.inbound_rates = [100, 250] if quick else [100, 250, 500, 750, 1000, 1500]
        self.inbound_seconds = 3.0 if quick else 10.0
        self.relay_backlog = 2000 if quick else 10_000
        self.drain_backlog = 1000


# -- helpers ---------------------------------------------------------------------------------


async def generate(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the load generator in its own process; returns its JSON result."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bench" / "load.py"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, _ = await process.communicate(json.dumps(spec).encode())
    if process.returncode != 0:
        raise RuntimeError(f"load generator failed ({process.returncode})")
    result: dict[str, Any] = json.loads(out)
    return result


def internal_token(audience: str, user_id: uuid.UUID) -> str:
    key = audience_key(SECRET_KEY, audience)
    return sign_internal_token(key, audience, Principal(user_id), ttl_seconds=3600)


class Bench:
    def __init__(self, system: System, params: Params, client: str) -> None:
        self.system = system
        self.p = params
        self.client = client
        self.figures: list[dict[str, Any]] = []
        self.details: dict[str, Any] = {}
        self.generator_cpu: dict[str, dict[str, float]] = {}
        self.service_cpu: dict[str, dict[str, float]] = {}
        self.tag = uuid.uuid4().hex[:6]
        self.db: asyncpg.Pool | None = None
        self.api: httpx.AsyncClient | None = None

    def add(self, *args: Any, **kwargs: Any) -> None:
        self.figures.append(figure(*args, **kwargs))

    async def load(self, name: str, streams: list[dict[str, Any]]) -> dict[str, Any]:
        """Run the generator, charging its CPU and the services' CPU to scenario `name`."""
        before = self.system.cpu() | machine_cpu()
        result = await generate({"client": self.client, "streams": streams})
        after = self.system.cpu() | machine_cpu()
        wall = result["wall_seconds"]
        used = {s: round(after[s] - before[s], 2) for s in after}
        used["generator"] = result["generator_cpu_seconds"]
        entry = self.service_cpu.setdefault(name, {s: 0.0 for s in used} | {"wall": 0.0})
        entry["wall"] = round(entry["wall"] + wall, 2)
        for s, v in used.items():
            entry[s] = round(entry[s] + v, 2)
        gen = self.generator_cpu.setdefault(name, {"cpu_seconds": 0.0, "wall_seconds": 0.0})
        gen["cpu_seconds"] = round(gen["cpu_seconds"] + result["generator_cpu_seconds"], 2)
        gen["wall_seconds"] = round(gen["wall_seconds"] + wall, 2)
        result["service_cpu"] = used
        return result

    # -- setup -----------------------------------------------------------------------------

    async def open(self) -> None:
        self.db = await asyncpg.create_pool(
            plain_database_url(self.system.db_url), min_size=1, max_size=4
        )
        self.api = httpx.AsyncClient(base_url=self.system.url("gateway"), timeout=30)

    async def close(self) -> None:
        if self.api is not None:
            await self.api.aclose()
        if self.db is not None:
            await self.db.close()

    async def owner(self, name: str, workspace: bool = True) -> dict[str, Any]:
        """Sign up and log in through the gateway; optionally create a workspace."""
        assert self.api is not None
        email = f"{name}-{self.tag}@bench.example.com"
        r = await self.api.post("/api/v1/users/signup", json={"email": email, "password": PASSWORD})
        r.raise_for_status()
        user_id = uuid.UUID(r.json()["id"])
        r = await self.api.post(
            "/api/v1/login/access-token", data={"username": email, "password": PASSWORD}
        )
        r.raise_for_status()
        token = r.json()["access_token"]
        owner: dict[str, Any] = {"id": user_id, "email": email, "token": token}
        if workspace:
            r = await self.api.post(
                "/api/v1/workspaces/",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "handle": f"{name}-{self.tag}",
                    "name": name,
                    "timezone": "Europe/Madrid",
                },
            )
            r.raise_for_status()
            owner["workspace_id"] = r.json()["id"]
        return owner

    async def wait_projected(self, workspace_id: str, timeout: float = 30) -> None:
        assert self.db is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.db.fetchval(
                "SELECT 1 FROM conversations.workspaces WHERE id = $1", uuid.UUID(workspace_id)
            ):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("workspace never reached the conversations service")

    def stream(self, name: str, mode: str, base: str, request: dict[str, Any], **kw: Any) -> dict:
        return {"name": name, "mode": mode, "base": base, "request": request, **kw}

    # -- 6b. memory ------------------------------------------------------------------------

    def memory(self, when: str) -> None:
        # Per process: with BENCH_REPLICAS a service's workers are measured one by one.
        for service, mb in self.system.rss_max().items():
            self.add("memory", f"{service}.{when}_mb", mb, "MB", Target("<", 150))

    # -- 6a. login -------------------------------------------------------------------------

    async def login(self) -> None:
        from gateway.security import PasswordHasher
        from gateway.settings import Settings as GatewaySettings

        settings = GatewaySettings(_env_file=None)  # type: ignore[call-arg]
        hasher = PasswordHasher(
            settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
        )
        hashed = await hasher.hash(PASSWORD)
        times = []
        for _ in range(5 if self.p.quick else 20):
            start = time.perf_counter()
            hasher._hasher.verify(hashed, PASSWORD)
            times.append(time.perf_counter() - start)
        self.add(
            "login",
            "argon2id_verify_p50_ms",
            percentile(times, 50) * 1000,
            "ms",
            note=f"m={settings.argon2_memory_kib} KiB, t={settings.argon2_time_cost}, "
            f"p={settings.argon2_parallelism}",
        )
        owner = await self.owner("reader")
        read = self.stream(
            "reads",
            "open",
            self.system.url("gateway"),
            {
                "kind": "static",
                "requests": [
                    {
                        "method": "GET",
                        "path": "/api/v1/workspaces/me",
                        "headers": {"Authorization": f"Bearer {owner['token']}"},
                    }
                ],
            },
            rate=self.p.read_rate,
            duration=self.p.login_seconds,
            connections=32,
        )
        form = f"username={owner['email'].replace('@', '%40')}&password={PASSWORD}"
        logins = self.stream(
            "logins",
            "open",
            self.system.url("gateway"),
            {
                "kind": "static",
                "requests": [
                    {
                        "method": "POST",
                        "path": "/api/v1/login/access-token",
                        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
                        "body": form,
                    }
                ],
            },
            rate=10,
            duration=self.p.login_seconds,
            connections=16,
        )
        idle = (await self.load("login", [read]))["streams"]["reads"]
        busy = await self.load("login", [read, logins])
        loaded = busy["streams"]["reads"]
        login_stream = busy["streams"]["logins"]
        idle_s = latency_summary(idle["latencies"])
        loaded_s = latency_summary(loaded["latencies"])
        login_s = latency_summary(login_stream["latencies"])
        self.details["login"] = {
            "reads_idle": idle_s | {"statuses": idle["statuses"]},
            "reads_with_logins": loaded_s | {"statuses": loaded["statuses"]},
            "logins": login_s | {"statuses": login_stream["statuses"]},
        }
        self.add("login", "read_p99_idle_ms", idle_s["p99_ms"], "ms")
        self.add("login", "read_p99_with_logins_ms", loaded_s["p99_ms"], "ms")
        self.add(
            "login",
            "read_p99_ratio",
            loaded_s["p99_ms"] / idle_s["p99_ms"],
            "ratio",
            Target("<=", 1.5),
            higher_is_better=False,
            note=f"reads at {self.p.read_rate}/s, logins at 10/s",
        )
        self.add("login", "login_p50_ms", login_s["p50_ms"], "ms")
        self.add("login", "login_p99_ms", login_s["p99_ms"], "ms")
        ok = login_stream["statuses"].get("200", 0)
        self.add("login", "logins_ok", ok / max(1, sum(login_stream["statuses"].values())), "ratio")
        await self.login_burst(logins)

    async def login_burst(self, logins: dict[str, Any]) -> None:
        """The gateway's resident memory before and after 600 logins, 32 at once."""
        before = self.system.rss_max()["gateway"]
        count = 150 if self.p.quick else 600
        burst = logins | {"rate": 1000, "duration": count / 1000, "connections": 32}
        result = (await self.load("login", [burst]))["streams"]["logins"]
        await asyncio.sleep(1.0)  # what is still resident once the burst is over
        after = self.system.rss_max()["gateway"]
        ok = result["statuses"].get("200", 0)
        note = f"{ok} of {count} logins ok, 32 connections"
        self.add("memory", "gateway.before_login_burst_mb", before, "MB")
        self.add("memory", "gateway.after_login_burst_mb", after, "MB", Target("<", 150), note=note)
        self.add("login", "burst_logins_per_s", ok / max(1e-9, result["elapsed"]), "/s", note=note)

    # -- 1. gateway overhead ---------------------------------------------------------------

    async def overhead(self) -> None:
        owner = await self.owner("overhead")
        path = "/api/v1/workspaces/me"
        via = {"Authorization": f"Bearer {owner['token']}"}
        direct = {"Authorization": f"Bearer {internal_token('workspaces', owner['id'])}"}

        def req(headers: dict[str, str]) -> dict[str, Any]:
            return {
                "kind": "static",
                "requests": [{"method": "GET", "path": path, "headers": headers}],
            }

        gw_base, ws_base = self.system.url("gateway"), self.system.url("workspaces")
        closed = {
            "duration": self.p.throughput_seconds,
            "warmup": self.p.warmup,
            "connections": 32,
        }
        d = await self.load(
            "overhead", [self.stream("d", "closed", ws_base, req(direct), **closed)]
        )
        g = await self.load("overhead", [self.stream("g", "closed", gw_base, req(via), **closed)])
        cpu_direct = d["service_cpu"]["workspaces"] / max(1, d["streams"]["d"]["completed"])
        cpu_gateway = g["service_cpu"]["gateway"] / max(1, g["streams"]["g"]["completed"])
        d, g = d["streams"]["d"], g["streams"]["g"]
        d_rps = len(d["latencies"]) / d["elapsed"]
        g_rps = len(g["latencies"]) / g["elapsed"]
        d_sat, g_sat = latency_summary(d["latencies"]), latency_summary(g["latencies"])
        # Added latency at the same offered rate, below both saturation points (at
        # saturation, latency with 32 connections is only 32 / throughput).
        rate = max(10, int(min(d_rps, g_rps) * 0.5))
        opened = {"rate": rate, "duration": self.p.latency_seconds, "connections": 32}
        d2 = await self.load("overhead", [self.stream("d", "open", ws_base, req(direct), **opened)])
        g2 = await self.load("overhead", [self.stream("g", "open", gw_base, req(via), **opened)])
        d_lat = latency_summary(d2["streams"]["d"]["latencies"])
        g_lat = latency_summary(g2["streams"]["g"]["latencies"])
        self.details["overhead"] = {
            "saturated": {"direct": d_sat | {"rps": d_rps}, "gateway": g_sat | {"rps": g_rps}},
            "at_rate": {"rate": rate, "direct": d_lat, "gateway": g_lat},
            "statuses": {"direct": d["statuses"], "gateway": g["statuses"]},
        }
        self.add("overhead", "direct_rps", d_rps, "/s", note="32 connections, closed loop")
        self.add("overhead", "gateway_rps", g_rps, "/s", note="32 connections, closed loop")
        self.add("overhead", "throughput_ratio", g_rps / d_rps, "ratio", Target(">=", 0.8))
        self.add(
            "overhead",
            "workspaces_cpu_ms_per_read",
            cpu_direct * 1000,
            "ms",
            note="CPU of the workspaces process per direct read",
        )
        self.add(
            "overhead",
            "gateway_cpu_ms_per_read",
            cpu_gateway * 1000,
            "ms",
            note="CPU of the gateway process per forwarded read",
        )
        self.add("overhead", "direct_p50_ms", d_lat["p50_ms"], "ms", note=f"at {rate}/s")
        self.add("overhead", "gateway_p50_ms", g_lat["p50_ms"], "ms", note=f"at {rate}/s")
        self.add("overhead", "direct_p99_ms", d_lat["p99_ms"], "ms", note=f"at {rate}/s")
        self.add("overhead", "gateway_p99_ms", g_lat["p99_ms"], "ms", note=f"at {rate}/s")
        self.add(
            "overhead",
            "added_p50_ms",
            g_lat["p50_ms"] - d_lat["p50_ms"],
            "ms",
            Target("<=", 2),
            note=f"at {rate}/s",
        )
        self.add(
            "overhead",
            "added_p99_ms",
            g_lat["p99_ms"] - d_lat["p99_ms"],
            "ms",
            Target("<=", 10),
            note=f"at {rate}/s",
        )

    # -- 2. owner API ----------------------------------------------------------------------

    async def owner_api(self) -> None:
        owners = [await self.owner(f"owner{i}") for i in range(self.p.owners)]
        gw = self.system.url("gateway")
        create = await self.load(
            "owner_api",
            [
                self.stream(
                    "create",
                    "closed",
                    gw,
                    {"kind": "service_create", "tokens": [o["token"] for o in owners]},
                    duration=self.p.throughput_seconds,
                    warmup=self.p.warmup,
                    connections=32,
                )
            ],
        )
        # A catalogue of exactly 100 services to list.
        lister = await self.owner("lister")
        assert self.api is not None
        headers = {"Authorization": f"Bearer {lister['token']}"}
        for i in range(100):
            r = await self.api.post(
                "/api/v1/workspace-services/",
                headers=headers,
                json={"name": f"Service {i}", "duration_minutes": 30},
            )
            r.raise_for_status()
        listing = await self.load(
            "owner_api",
            [
                self.stream(
                    "list",
                    "closed",
                    gw,
                    {
                        "kind": "static",
                        "requests": [
                            {
                                "method": "GET",
                                "path": "/api/v1/workspace-services/?limit=100",
                                "headers": headers,
                            }
                        ],
                    },
                    duration=self.p.throughput_seconds,
                    warmup=self.p.warmup,
                    connections=32,
                )
            ],
        )
        c, li = create["streams"]["create"], listing["streams"]["list"]
        self.details["owner_api"] = {
            "create_statuses": c["statuses"],
            "list_statuses": li["statuses"],
        }
        for name, s in (("create_service", c), ("list_100", li)):
            summary = latency_summary(s["latencies"])
            ok = s["statuses"].get("201" if name == "create_service" else "200", 0)
            self.add("owner_api", f"{name}_rps", ok / s["elapsed"], "/s", note="32 connections")
            self.add("owner_api", f"{name}_p50_ms", summary["p50_ms"], "ms")
            self.add("owner_api", f"{name}_p99_ms", summary["p99_ms"], "ms")
            errors = sum(v for k, v in s["statuses"].items() if k not in ("200", "201"))
            self.add("owner_api", f"{name}_errors", errors, "count", Target("==", 0))
        tail = latency_summary(li["latencies"])
        self.add(
            "owner_api",
            "list_100_tail_ratio",
            tail["p99_ms"] / max(1e-9, tail["p50_ms"]),
            "ratio",
            Target("<=", 3),
            higher_is_better=False,
            note="p99 / p50 at 32 connections",
        )
        # CPU per create, by process: the request's own work (gateway + workspaces) is the
        # target; the relay publishing workspace_service.created and the consumers projecting
        # it (connectors, conversations) follow from it and are shown beside it.
        done = max(1, c["completed"])
        used = create["service_cpu"]
        split = {s: used[s] * 1000 / done for s in SERVICES}
        for service, ms in split.items():
            self.add("owner_api", f"create_cpu_ms.{service}", ms, "ms", note="per create")
        self.add(
            "owner_api",
            "create_cpu_ms_request",
            split["gateway"] + split["workspaces"],
            "ms",
            Target("<=", 2.5),
            note="gateway + workspaces per create (their relay included)",
        )

    # -- 4. event propagation --------------------------------------------------------------

    async def propagation(self) -> None:
        # At the target rate, then at a rate the producer keeps up with easily, so that the
        # propagation itself can be told apart from a producer that is saturated.
        # The light run goes first, so that it does not start behind the other's backlog.
        await self._propagation(50, self.p.propagation_light_seconds, "at50.")
        await self._propagation(self.p.propagation_rate, self.p.propagation_seconds, "")

    async def _propagation(self, rate: int, seconds: float, label: str) -> None:
        assert self.db is not None
        prefix = f"p{rate}{self.tag}"
        result = await self.load(
            "propagation",
            [
                self.stream(
                    "create",
                    "open",
                    self.system.url("workspaces"),
                    {"kind": "workspace_create", "prefix": prefix, "secret_key": SECRET_KEY},
                    rate=rate,
                    duration=seconds,
                    connections=64,
                )
            ],
        )
        s = result["streams"]["create"]
        created = s["statuses"].get("201", 0)
        cpu = result["service_cpu"]
        query = """
            SELECT p.key, extract(epoch FROM c.at - p.at) AS lag
            FROM bench.marks p
            JOIN workspaces.workspaces w ON w.id::text = p.key AND w.handle LIKE $1
            LEFT JOIN bench.marks c ON c.kind = 'projected' AND c.key = p.key
            WHERE p.kind = 'produced'
        """
        # Wait until every event is projected, or nothing moves for 15 s (then it is lost).
        last_missing, last_change = -1, time.monotonic()
        while True:
            rows = await self.db.fetch(query, f"{prefix}-%")
            missing = sum(1 for r in rows if r["lag"] is None) + created - len(rows)
            if missing != last_missing:
                last_missing, last_change = missing, time.monotonic()
            if not missing or time.monotonic() - last_change > 15:
                break
            await asyncio.sleep(0.5)
        lags = [float(r["lag"]) for r in rows if r["lag"] is not None]
        summary = latency_summary(lags)
        http = latency_summary(s["latencies"])
        self.details[f"propagation.{label}"] = {
            "rate": rate,
            "seconds": seconds,
            "commit_to_commit": summary,
            "create_http": http | {"statuses": s["statuses"], "lag_p99_ms": s["lag_p99_ms"]},
            "created": created,
            "produced": len(rows),
        }
        note = f"{rate}/s for {seconds:g} s"
        targets = not label  # the targets are stated for 200/s
        self.add(
            "propagation",
            f"{label}p50_ms",
            summary["p50_ms"],
            "ms",
            Target("<", 20) if targets else None,
            note=note,
        )
        self.add(
            "propagation",
            f"{label}p99_ms",
            summary["p99_ms"],
            "ms",
            Target("<", 100) if targets else None,
            note=note,
        )
        self.add(
            "propagation",
            f"{label}lost",
            missing,
            "count",
            Target("==", 0),
        )
        self.add(
            "propagation",
            f"{label}created_per_s",
            created / s["elapsed"],
            "/s",
            note=f"offered {rate}/s",
        )
        self.add("propagation", f"{label}create_p99_ms", http["p99_ms"], "ms", note=note)
        for service in ("workspaces", "conversations"):
            self.add(
                "propagation",
                f"{label}{service}_cpu_ms_per_event",
                cpu[service] * 1000 / max(1, created),
                "ms",
                note="CPU per workspace created (producer) or projected (consumer)",
            )

    # -- 3. inbound messages ---------------------------------------------------------------

    async def inbound(self) -> None:
        assert self.api is not None and self.db is not None
        owner = await self.owner("inbound")
        await self.wait_projected(owner["workspace_id"])
        phone = f"9{int(uuid.uuid4().int % 10**11)}"
        r = await self.api.post(
            "/api/v1/channel-accounts/",
            headers={"Authorization": f"Bearer {owner['token']}"},
            json={
                "channel": "whatsapp",
                "account_id": phone,
                "name": "bench",
                "credentials": {"access_token": provider_fakes().WHATSAPP_TOKEN},
            },
        )
        r.raise_for_status()
        steps: list[dict[str, Any]] = []
        offset = 0
        all_accepted: set[str] = set()
        for rate in self.p.inbound_rates:
            prefix = f"{self.tag}r{rate}"
            result = await self.load(
                "inbound",
                [
                    self.stream(
                        "webhooks",
                        "open",
                        self.system.url("gateway"),
                        {
                            "kind": "whatsapp",
                            "path": "/api/v1/webhooks/whatsapp",
                            "secret": META_SECRET,
                            "phone_number_id": phone,
                            "visitors": 1000,
                            "prefix": prefix,
                            "offset": offset,
                        },
                        rate=rate,
                        duration=self.p.inbound_seconds,
                        connections=256,
                        record=True,
                    )
                ],
            )
            offset += int(rate * self.p.inbound_seconds)
            s = result["streams"]["webhooks"]
            before = self.system.cpu()
            step = await self._inbound_step(rate, prefix, s)
            drained = self.system.cpu()
            cpu = {k: result["service_cpu"][k] + drained[k] - before[k] for k in before}
            step["gateway_cpu_ms_per_msg"] = round(
                cpu["gateway"] * 1000 / max(1, step["accepted"]), 3
            )
            step["conversations_cpu_ms_per_msg"] = round(
                cpu["conversations"] * 1000 / max(1, step["stored"]), 3
            )
            all_accepted |= step.pop("accepted_ids")
            steps.append(step)
            # Rising rates until the system falls behind, but always up to 500/s, where the
            # latency target is stated.
            if step["behind"] and rate >= 500:
                break
        lost, duplicated = await self._inbound_totals(all_accepted, owner["workspace_id"])
        self.details["inbound"] = {"steps": steps}
        for step in steps:
            r = step["rate"]
            self.add("inbound", f"r{r}.accepted_per_s", step["accepted_per_s"], "/s")
            self.add("inbound", f"r{r}.stored_per_s", step["stored_per_s"], "/s")
            self.add("inbound", f"r{r}.p50_ms", step["p50_ms"], "ms")
            self.add("inbound", f"r{r}.p99_ms", step["p99_ms"], "ms")
            for service in ("gateway", "conversations"):
                key = f"{service}_cpu_ms_per_msg"
                self.add("inbound", f"r{r}.{key}", step[key], "ms")
        best = max(steps, key=lambda st: st["stored_per_s"])
        self.add(
            "inbound",
            "max_stored_per_s",
            best["stored_per_s"],
            "/s",
            Target(">=", 1000),
            note=f"best step: offered {best['rate']}/s",
        )
        at_500 = next((st for st in steps if st["rate"] == 500), None)
        if at_500 is not None:
            self.add("inbound", "p99_at_500_ms", at_500["p99_ms"], "ms", Target("<", 250))
        self.add("inbound", "lost", lost, "count", Target("==", 0))
        self.add("inbound", "duplicated", duplicated, "count", Target("==", 0))

    async def _inbound_step(self, rate: int, prefix: str, s: dict[str, Any]) -> dict[str, Any]:
        assert self.db is not None
        records = s["records"]
        accepted = {rec[0]: rec[1] for rec in records if rec[2] == 200}
        first_sent = min(rec[1] for rec in records)
        # Wait until every accepted message is stored, or nothing moves for 10 s.
        last_count, last_change = -1, time.monotonic()
        while True:
            rows = await self.db.fetch(
                "SELECT key, extract(epoch FROM at) AS at FROM bench.marks "
                "WHERE kind = 'stored' AND key LIKE $1",
                f"wamid.{prefix}.%",
            )
            stored = {r["key"]: float(r["at"]) for r in rows}
            if len(stored) != last_count:
                last_count, last_change = len(stored), time.monotonic()
            if set(accepted) <= set(stored) or time.monotonic() - last_change > 10:
                break
            await asyncio.sleep(0.25)
        lat = [stored[k] - sent for k, sent in accepted.items() if k in stored]
        summary = latency_summary(lat)
        last_stored = max(stored.values()) if stored else first_sent
        stored_per_s = len(stored) / max(1e-6, last_stored - first_sent)
        accepted_per_s = len(accepted) / s["elapsed"]
        http = latency_summary(s["latencies"])
        behind = (
            len(accepted) < 0.99 * len(records)
            or stored_per_s < 0.95 * rate
            or summary["p99_ms"] > 1000
        )
        return {
            "rate": rate,
            "sent": len(records),
            "accepted": len(accepted),
            "stored": len(stored),
            "accepted_per_s": round(accepted_per_s, 1),
            "stored_per_s": round(stored_per_s, 1),
            "p50_ms": summary["p50_ms"],
            "p90_ms": summary["p90_ms"],
            "p99_ms": summary["p99_ms"],
            "http_p50_ms": http["p50_ms"],
            "http_p99_ms": http["p99_ms"],
            "statuses": s["statuses"],
            "generator_lag_p99_ms": s["lag_p99_ms"],
            "behind": behind,
            "accepted_ids": set(accepted),
        }

    async def _inbound_totals(self, accepted: set[str], workspace_id: str) -> tuple[int, int]:
        assert self.db is not None
        stored = {
            r["external_id"]
            for r in await self.db.fetch(
                "SELECT external_id FROM conversations.messages WHERE workspace_id = $1",
                uuid.UUID(workspace_id),
            )
        }
        lost = len(accepted - stored)
        twice = await self.db.fetchval(
            "SELECT count(*) FROM (SELECT external_id FROM conversations.messages "
            "WHERE workspace_id = $1 GROUP BY channel, external_id HAVING count(*) > 1) d",
            uuid.UUID(workspace_id),
        )
        counted = await self.db.fetchval(
            "SELECT coalesce(sum(message_count), 0) FROM conversations.conversations "
            "WHERE workspace_id = $1",
            uuid.UUID(workspace_id),
        )
        # A message counted twice on its conversation is a duplicate effect too.
        return lost, int(twice) + max(0, int(counted) - len(stored))

    # -- the built-in calendar -------------------------------------------------------------

    async def calendar(self) -> None:
        from bench.calendar_bench import calendar

        await calendar(self)

    async def agent(self) -> None:
        from bench.agent import agent

        await agent(self)

    # -- owner replies to the provider (restarts conversations: run last) ---------------

    async def replies(self) -> None:
        from bench.replies import replies

        await replies(self)

    # -- 5. relay --------------------------------------------------------------------------

    async def relay(self) -> None:
        from bench.relay import measure_relay

        results = await measure_relay(
            self.system.db_url, rabbitmq_url(), self.p.relay_backlog, self.p.drain_backlog
        )
        self.details["relay"] = results
        n = self.p.relay_backlog
        self.add(
            "relay",
            "batched_per_s",
            results["batched_per_s"],
            "/s",
            Target(">=", 5000),
            note=f"backlog of {n}",
        )
        self.add(
            "relay",
            "sequential_per_s",
            results["sequential_per_s"],
            "/s",
            note=f"backlog of {n}, publish and wait for each confirm",
        )
        self.add(
            "relay",
            "batched_cpu_ms_per_event",
            results["batched_cpu_ms_per_event"],
            "ms",
            note="relay process CPU (claim, publish, confirm, mark)",
        )
        self.add(
            "relay",
            "batched_speedup",
            results["batched_per_s"] / results["sequential_per_s"],
            "ratio",
            Target(">=", 5),
        )
        self.add(
            "relay",
            "outage_drain_s",
            results["drain_seconds"],
            "s",
            Target("<", 10),
            note=f"{self.p.drain_backlog} events, from the broker coming back",
        )
        self.add("relay", "lost", results["lost"], "count", Target("==", 0))


# -- machine ---------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) // 1024
    versions = {}
    for package in (
        "fastapi",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "pydantic",
        "sqlalchemy",
        "asyncpg",
        "faststream",
        "aio-pika",
        "aiormq",
        "argon2-cffi",
        "httpx",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "ram_mb": ram,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": versions,
        "git_commit": commit,
        "git_dirty": bool(dirty),
    }


async def server_versions(system: System) -> dict[str, str]:
    import aio_pika

    out: dict[str, str] = {}
    conn = await asyncpg.connect(plain_database_url(system.db_url))
    try:
        out["postgres"] = (await conn.fetchval("SHOW server_version")).split()[0]
        # What one durable commit costs on this disk (every write pays it).
        await conn.execute("CREATE TABLE IF NOT EXISTS bench.commit_probe (x int)")
        times = []
        for _ in range(50):
            started = time.perf_counter()
            async with conn.transaction():
                await conn.execute("INSERT INTO bench.commit_probe VALUES (1)")
            times.append(time.perf_counter() - started)
        out["postgres_commit_p50_ms"] = str(round(percentile(times, 50) * 1000, 2))
    finally:
        await conn.close()
    mq = await aio_pika.connect(rabbitmq_url())
    try:
        props = mq.transport.connection.server_properties  # type: ignore[union-attr]
        version = props.get("version", b"")
        out["rabbitmq"] = version.decode() if isinstance(version, bytes) else str(version)
    except Exception:
        out["rabbitmq"] = "unknown"
    finally:
        await mq.close()
    return out


# -- output ----------------------------------------------------------------------------------


def print_table(figures: list[dict[str, Any]]) -> None:
    rows = [
        (f["key"], f["value"], f["unit"], f["target"] or "", f["met"], f.get("note", ""))
        for f in figures
    ]
    print(stats.format_table(("figure", "value", "unit", "target", "result", "note"), rows))


def print_comparison(rows: list[dict[str, Any]]) -> None:
    table = [
        (
            r["key"],
            r["previous"],
            r["current"],
            r["ratio"],
            "REGRESSION" if r["regression"] else ("better" if r["improvement"] else ""),
        )
        for r in rows
    ]
    print(stats.format_table(("figure", "previous", "current", "ratio", ""), table))


async def scenarios(bench: Bench, only: list[str]) -> None:
    await bench.open()
    try:
        for name in SCENARIOS:
            if name not in only:
                continue
            started = time.monotonic()
            print(f"-- {name}", file=sys.stderr, flush=True)
            if name == "memory":
                bench.memory("idle")
            else:
                await getattr(bench, name)()
            if name == "inbound" and "memory" in only:
                bench.memory("after_ingest")
            print(f"   {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    finally:
        await bench.close()


def run_async(coroutine: Any) -> Any:
    """On uvloop, as the services run (the relay benchmark runs in this process)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--compare", type=Path, help="a previous results file")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    parser.add_argument("--profile", default="", help="services to run under pyinstrument")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument(
        "--inbound-rates", help="comma-separated webhook rates per second (default by mode)"
    )
    parser.add_argument("--step-seconds", type=float, help="seconds per inbound rate step")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    previous = json.loads(args.compare.read_text()) if args.compare else None

    params = Params(args.quick)
    if args.inbound_rates:
        params.inbound_rates = [int(r) for r in args.inbound_rates.split(",")]
    if args.step_seconds:
        params.inbound_seconds = args.step_seconds
    profile = {s for s in args.profile.split(",") if s}
    if profile - set(SERVICES):
        parser.error(f"--profile takes service names: {', '.join(SERVICES)}")
    system = System(profile=profile)
    started = time.time()
    print(f"preparing database and bus (logs in {system.logs})", file=sys.stderr, flush=True)
    system.prepare()
    bench = Bench(system, params, args.client)
    ok = False
    try:
        system.start()
        run_async(scenarios(bench, only))
        ok = True
    finally:
        system.stop()
        system.cleanup(keep_logs=args.keep_logs or not ok)
        if not ok:
            print(f"service logs kept in {system.logs}", file=sys.stderr)

    machine = machine_info() | {"servers": asyncio.run(server_versions(system))}
    run = {
        "command": "bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "quick": args.quick,
        "client": args.client,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_seconds": round(time.time() - started, 1),
        "scenarios": only,
        "profiled": sorted(profile),
        "replicas": system.replicas,
        "exchange": EXCHANGE,
        "queue_prefix": QUEUE_PREFIX,
        "generator_cpu": bench.generator_cpu,
        "service_cpu_seconds": bench.service_cpu,
        "details": bench.details,
    }
    doc = stats.results_document(bench.figures, machine, run)
    args.out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print()
    print_table(bench.figures)
    print()
    print("CPU while load ran, in cores (CPU seconds / wall seconds):")
    rows = []
    for name, used in bench.service_cpu.items():
        wall = max(used["wall"], 1e-6)
        rows.append([name, round(wall, 1)] + [used.get(k, 0) / wall for k in CPU_COLUMNS])
    print(stats.format_table(["scenario", "wall s", *CPU_COLUMNS], rows))
    missed = [f["key"] for f in bench.figures if f["met"] is False]
    print(f"\nwrote {args.out}; targets missed: {', '.join(missed) or 'none'}")
    if previous is not None:
        print(f"\ncompared with {args.compare}:")
        rows = stats.compare(doc, previous)
        print_comparison(rows)
        regressions = [r["key"] for r in rows if r["regression"]]
        print(f"regressions: {', '.join(regressions) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
