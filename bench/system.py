"""The system under test: its own database, bus names and ports, the four services as processes.

Like the end-to-end suite, but with a fixed database name (`base_bench`, dropped and created
again on every run) and its own exchange and queue prefix, so it never touches the data
`make run` uses. Commit-time probes are added to the bench database only (see MARKS_SQL).

BENCH_REPLICAS="conversations=2,gateway=2" serves those services with that many uvicorn
workers each (WEB_CONCURRENCY; every other service has one). A service's CPU and memory are
then those of its whole process tree: the supervisor and its workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import aio_pika
import asyncpg
import httpx

from shared.db.migrations import drop_database, ensure_database, upgrade
from shared.settings import plain_database_url

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("workspaces", "connectors", "conversations", "gateway")
SECRET_KEY = "bench-secret-key-long-enough-for-hs256-signing"
SUPERUSER = "admin@bench.example.com"
SUPERUSER_PASSWORD = "admin-password-bench"
META_SECRET = "bench-meta-app-secret"
# BENCH_NAME gives a run names of its own, so two benchmarks can share the machine's servers.
NAME = os.environ.get("BENCH_NAME", "bench")
DATABASE = f"base_{NAME}"
EXCHANGE = f"{NAME}.events"
QUEUE_PREFIX = f"{NAME}."

# Commit-time probes. A deferred constraint trigger runs when the transaction commits, so
# clock_timestamp() in it is the commit time (before the WAL flush) on the database's clock,
# the same clock for producer and consumer. Only the bench database gets them.
MARKS_SQL = [
    "CREATE SCHEMA bench",
    "CREATE UNLOGGED TABLE bench.marks (kind text NOT NULL, key text NOT NULL, "
    "at timestamptz NOT NULL)",
    """CREATE FUNCTION bench.mark() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_TABLE_NAME = 'outbox' THEN
            IF NEW.event_type = 'workspace.created' THEN
                INSERT INTO bench.marks VALUES ('produced', NEW.aggregate_id, clock_timestamp());
            END IF;
        ELSIF TG_TABLE_NAME = 'workspaces' THEN
            INSERT INTO bench.marks VALUES ('projected', NEW.id::text, clock_timestamp());
        ELSIF TG_TABLE_NAME = 'messages' AND NEW.external_id IS NOT NULL THEN
            INSERT INTO bench.marks VALUES ('stored', NEW.external_id, clock_timestamp());
        END IF;
        RETURN NULL;
    END $$""",
    "CREATE CONSTRAINT TRIGGER bench_mark AFTER INSERT ON workspaces.outbox "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bench.mark()",
    "CREATE CONSTRAINT TRIGGER bench_mark AFTER INSERT ON conversations.workspaces "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bench.mark()",
    "CREATE CONSTRAINT TRIGGER bench_mark AFTER INSERT ON conversations.messages "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bench.mark()",
    "CREATE INDEX ON bench.marks (kind, key)",
]


def provider_fakes() -> ModuleType:
    """The conversations service's loopback provider fakes (Graph API, Twilio)."""
    name = "bench_provider_fakes"
    if name in sys.modules:
        return sys.modules[name]
    path = ROOT / "services" / "conversations" / "tests" / "fakes.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_url() -> str:
    base = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
    return f"{base.rstrip('/')}/{DATABASE}"


def rabbitmq_url() -> str:
    return os.environ.get("BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


def replicas_from(text: str) -> dict[str, int]:
    """`conversations=2,gateway=2`: worker processes per service (those not named have one)."""
    replicas: dict[str, int] = {}
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        name, _, count = (part.strip() for part in item.partition("="))
        if name not in SERVICES or not count.isdigit() or not 1 <= int(count) <= 32:
            raise ValueError(
                f"BENCH_REPLICAS: {item!r} is not <service>=<1..32> "
                f"(services: {', '.join(SERVICES)})"
            )
        replicas[name] = int(count)
    return replicas


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, parents first (a service with workers is uvicorn's supervisor,
    its workers and multiprocessing's resource tracker)."""
    tree = [pid]
    for parent in tree:  # grows while it is walked
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                tree += [int(child) for child in children.read_text().split()]
    return tree


def rss_mb(pid: int) -> float:
    """Resident set size of a process (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tree_rss_mb(pid: int) -> list[float]:
    """VmRSS of each process in the tree, in MB (a descendant gone meanwhile is left out; the
    process itself gone is an error, as for `rss_mb`)."""
    root, *descendants = process_tree(pid)
    sizes = [rss_mb(root)]
    for member in descendants:
        with contextlib.suppress(OSError):
            sizes.append(rss_mb(member))
    return sizes


def cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by a process and its descendants: utime + stime of each, plus
    cutime + cstime (children that exited and were reaped), so the sum never goes back when a
    worker is replaced. A process without children: its own utime + stime."""
    used = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            if member == pid:
                raise
            continue  # exited since the walk; its time is in its parent's cutime by now
        used += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return used / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> dict[str, float]:
    """CPU seconds used so far: the whole machine, and Postgres and RabbitMQ processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in fields]
    busy = sum(values) - values[3] - values[4]  # minus idle and iowait
    out = {"machine": busy / ticks, "postgres": 0.0, "rabbitmq": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        group = "postgres" if name.startswith("postgres") else None
        if name.startswith("beam.smp") or name in ("erl_child_setup", "epmd"):
            group = "rabbitmq"
        if group:
            parts = stat.rsplit(")", 1)[1].split()
            # Own time plus that of exited children (Postgres backends come and go).
            used = sum(int(parts[i]) for i in (11, 12, 13, 14))
            out[group] += used / ticks
    return out


@dataclass
class System:
    profile: set[str] = field(default_factory=set)
    # Worker processes per service, from BENCH_REPLICAS; for the results' run metadata too.
    replicas: dict[str, int] = field(
        default_factory=lambda: replicas_from(os.environ.get("BENCH_REPLICAS", ""))
    )
    ports: dict[str, int] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    graph: Any = None
    logs: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="base-bench-")))
    profiles: Path = ROOT / "bench" / "profiles"
    # Where each service's log stood when it was last started (the log outlives a restart).
    _log_offsets: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        both = sorted(s for s in self.profile if self.workers(s) > 1)
        if both:
            # pyinstrument would sample the supervisor, which serves nothing.
            raise ValueError(f"cannot profile a service with workers: {', '.join(both)}")

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def workers(self, service: str) -> int:
        return self.replicas.get(service, 1)

    @property
    def db_url(self) -> str:
        return database_url()

    # -- setup -----------------------------------------------------------------------------

    def prepare(self) -> None:
        """Fresh database with every migration and the commit probes; clean bus names."""
        url = self.db_url
        asyncio.run(drop_database(url))
        asyncio.run(ensure_database(url))
        for service in SERVICES:
            upgrade(ROOT / "services" / service / "alembic.ini", url)
        asyncio.run(self._install_marks())
        asyncio.run(delete_bus())

    async def _install_marks(self) -> None:
        conn = await asyncpg.connect(plain_database_url(self.db_url))
        try:
            for statement in MARKS_SQL:
                await conn.execute(statement)
        finally:
            await conn.close()

    def start(self) -> None:
        self.ports = {service: free_port() for service in SERVICES}
        # Channel accounts route only once the provider confirms them: a loopback Graph API.
        fakes = provider_fakes()
        state = fakes.FakeState()
        self.graph = fakes.FakeServer(fakes.graph_app(state), state).start()
        self.env = os.environ | {
            "GRAPH_API_BASE_URL": self.graph.url,
            "DATABASE_URL": self.db_url,
            "RABBITMQ_URL": rabbitmq_url(),
            "EVENTS_EXCHANGE": EXCHANGE,
            "QUEUE_PREFIX": QUEUE_PREFIX,
            "SECRET_KEY": SECRET_KEY,
            "FIRST_SUPERUSER": SUPERUSER,
            "FIRST_SUPERUSER_PASSWORD": SUPERUSER_PASSWORD,
            "META_APP_SECRET": META_SECRET,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.ports['gateway']}",
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO"),
            "WORKSPACES_URL": self.url("workspaces"),
            "CONNECTORS_URL": self.url("connectors"),
            "CONVERSATIONS_URL": self.url("conversations"),
            # The agent runs only in its own scenario (bench/agent.py starts a replica).
            "AGENT_ENABLED": os.environ.get("AGENT_ENABLED", "false"),
        }
        self.env |= {f"{s.upper()}_PORT": str(p) for s, p in self.ports.items()}
        # Set per service in _spawn; anything else started from this env (the agent replica)
        # runs one process unless it says otherwise.
        self.env.pop("WEB_CONCURRENCY", None)
        for service in SERVICES:
            self._spawn(service)
        for service in SERVICES:
            self.wait_ready(service)
        for service in self.profile:
            self.processes[service].send_signal(signal.SIGUSR1)

    def _spawn(self, service: str) -> None:
        path = self.logs / f"{service}.log"
        self._log_offsets[service] = path.stat().st_size if path.exists() else 0
        log = open(path, "ab")  # noqa: SIM115 - owned by the process
        command = [sys.executable, "-m", service]
        if service in self.profile:
            self.profiles.mkdir(exist_ok=True)
            command = [
                sys.executable,
                str(ROOT / "bench" / "profiled.py"),
                service,
                str(self.profiles / service),
            ]
        env = self.env | {"WEB_CONCURRENCY": str(self.workers(service))}
        self.processes[service] = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )

    def wait_ready(self, service: str, timeout: float = 90) -> None:
        """`/ready` answers, and with workers every one of them has started (any one of them
        answers `/ready`; load must not meet a worker still importing)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes[service].poll() is not None:
                raise RuntimeError(f"{service} exited:\n{self.tail(service)}")
            with contextlib.suppress(httpx.HTTPError):
                ready = httpx.get(f"{self.url(service)}/ready", timeout=1).status_code == 200
                if ready and self._started_workers(service) >= self.workers(service):
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{service} not ready:\n{self.tail(service)}")

    def _started_workers(self, service: str) -> int:
        if self.workers(service) == 1:
            return 1
        with (self.logs / f"{service}.log").open("rb") as log:
            log.seek(self._log_offsets.get(service, 0))
            return log.read().count(b"Application startup complete.")

    def pids(self) -> dict[str, int]:
        """The process each service was started as (under pyinstrument, the same process runs
        it; with workers, uvicorn's supervisor: `process_tree` has the workers)."""
        return {name: p.pid for name, p in self.processes.items()}

    def rss(self) -> dict[str, float]:
        """Resident memory of each service's whole process tree, summed, in MB."""
        return {name: sum(tree_rss_mb(pid)) for name, pid in self.pids().items()}

    def rss_max(self) -> dict[str, float]:
        """Resident memory of each service's largest single process, in MB (with one process:
        the same as `rss`)."""
        return {name: max(tree_rss_mb(pid)) for name, pid in self.pids().items()}

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each service's whole process tree."""
        return {name: cpu_seconds(pid) for name, pid in self.pids().items()}

    def tail(self, service: str, lines: int = 30) -> str:
        path = self.logs / f"{service}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # -- teardown --------------------------------------------------------------------------

    def stop(self) -> None:
        if self.graph is not None:
            self.graph.stop()
            self.graph = None
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                # Its own session: the group holds the service and any workers it spawned.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def cleanup(self, keep_logs: bool = False) -> None:
        asyncio.run(delete_bus())
        if not keep_logs:
            shutil.rmtree(self.logs, ignore_errors=True)


async def delete_bus() -> None:
    """Remove the bench exchange and every queue with the bench prefix."""
    queues: list[str] = []
    if shutil.which("rabbitmqctl") is not None:
        listing = await asyncio.create_subprocess_exec(
            "rabbitmqctl",
            "-q",
            "list_queues",
            "name",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await listing.communicate()
        queues = [q for q in out.decode().split() if q.startswith(QUEUE_PREFIX)]
    connection = await aio_pika.connect(rabbitmq_url(), timeout=5)
    try:
        for name in queues:
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(name)
        for name in (EXCHANGE, f"{EXCHANGE}.dlx"):
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.exchange_delete(name)
    finally:
        await connection.close()
