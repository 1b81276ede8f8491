"""The benchmark harness's pure parts: percentiles, targets, the results file, comparisons.

Nothing here starts the system or sends load; `make bench` does that (and nothing in
`make test` is timed).
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


stats = _load("stats")
load = _load("load")


def test_percentile_interpolates_between_closest_ranks() -> None:
    assert stats.percentile([1, 2, 3, 4], 50) == 2.5
    assert stats.percentile([4, 1, 3, 2], 0) == 1
    assert stats.percentile([4, 1, 3, 2], 100) == 4
    assert stats.percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert stats.percentile([7], 99) == 7
    assert math.isnan(stats.percentile([], 50))
    with pytest.raises(ValueError):
        stats.percentile([1], 101)


def test_latency_summary_is_in_milliseconds() -> None:
    summary = stats.latency_summary([0.001, 0.002, 0.003, 0.004, 0.100])
    assert summary["n"] == 5
    assert summary["p50_ms"] == 3.0
    assert summary["max_ms"] == 100.0
    assert summary["p99_ms"] == pytest.approx(96.16)


def test_targets_and_figures() -> None:
    assert stats.Target(">=", 0.6).met(0.6)
    assert not stats.Target("<", 20).met(20)
    assert stats.Target("==", 0).met(0)
    assert not stats.Target("<=", 2).met(math.nan)
    row = stats.figure("overhead", "added_p50_ms", 1.5, "ms", stats.Target("<=", 2))
    assert row["key"] == "overhead.added_p50_ms"
    assert row["met"] is True
    assert row["target"] == "<= 2"
    assert row["higher_is_better"] is False
    assert stats.figure("inbound", "stored", 900.0, "/s")["higher_is_better"] is True
    assert stats.figure("x", "no_target", 1.0, "ratio")["met"] is None
    with pytest.raises(ValueError):
        stats.figure("x", "y", 1.0, "furlongs")


def _doc(*figures: dict) -> dict:
    machine = {
        "cpu_model": "test",
        "cores": 2,
        "ram_mb": 1024,
        "python": "3.11",
        "git_commit": "abc",
        "versions": {},
    }
    return stats.results_document(list(figures), machine, {"quick": True})


def test_results_document_shape() -> None:
    doc = _doc(
        stats.figure("relay", "batched_per_s", 2500.0, "/s", stats.Target(">=", 2000)),
        stats.figure("inbound", "lost", 0, "count", stats.Target("==", 0)),
    )
    assert stats.check_results_shape(json.loads(json.dumps(doc))) == []
    broken = json.loads(json.dumps(doc))
    del broken["machine"]["cores"]
    broken["figures"][0]["unit"] = "parsecs"
    problems = stats.check_results_shape(broken)
    assert "machine.cores missing" in problems
    assert any("unit" in p for p in problems)
    assert stats.check_results_shape({"version": 1}) != []
    with pytest.raises(ValueError, match="duplicate"):
        _doc(stats.figure("a", "b", 1.0, "ms"), stats.figure("a", "b", 2.0, "ms"))


def test_compare_marks_regressions_in_the_right_direction() -> None:
    previous = _doc(
        stats.figure("overhead", "gateway_rps", 1000.0, "/s"),
        stats.figure("overhead", "p99_ms", 10.0, "ms"),
        stats.figure("overhead", "p50_ms", 10.0, "ms"),
        stats.figure("relay", "drain_s", 5.0, "s", stats.Target("<", 10)),
        stats.figure("inbound", "lost", 0, "count", stats.Target("==", 0)),
        stats.figure("login", "p99_ratio", 1.2, "ratio", higher_is_better=False),
        stats.figure("gone", "figure", 1.0, "ms"),
    )
    current = _doc(
        stats.figure("overhead", "gateway_rps", 800.0, "/s"),  # 20 % slower: regression
        stats.figure("overhead", "p99_ms", 10.5, "ms"),  # 5 % slower: within tolerance
        stats.figure("overhead", "p50_ms", 5.0, "ms"),  # twice as fast: improvement
        stats.figure("relay", "drain_s", 10.2, "s", stats.Target("<", 10)),  # lost its target
        stats.figure("inbound", "lost", 1, "count", stats.Target("==", 0)),  # any loss
        stats.figure("login", "p99_ratio", 1.5, "ratio", higher_is_better=False),
        stats.figure("new", "figure", 1.0, "ms"),  # not in the previous run: skipped
    )
    rows = {r["key"]: r for r in stats.compare(current, previous)}
    assert set(rows) == {
        "overhead.gateway_rps",
        "overhead.p99_ms",
        "overhead.p50_ms",
        "relay.drain_s",
        "inbound.lost",
        "login.p99_ratio",
    }
    assert rows["overhead.gateway_rps"]["ratio"] == 0.8
    assert rows["overhead.gateway_rps"]["regression"]
    assert not rows["overhead.p99_ms"]["regression"]
    assert not rows["overhead.p99_ms"]["improvement"]
    assert rows["overhead.p50_ms"]["improvement"]
    assert not rows["overhead.p50_ms"]["regression"]
    assert rows["relay.drain_s"]["regression"]
    assert rows["inbound.lost"]["regression"]
    assert rows["inbound.lost"]["ratio"] is None  # from zero: no finite ratio
    assert rows["login.p99_ratio"]["regression"]


def test_compare_against_itself_shows_no_change() -> None:
    doc = _doc(stats.figure("a", "rate", 5.0, "/s"), stats.figure("a", "lost", 0, "count"))
    rows = stats.compare(doc, doc)
    assert [r["ratio"] for r in rows] == [1.0, 1.0]
    assert not any(r["regression"] or r["improvement"] for r in rows)


def test_format_table_aligns_columns() -> None:
    table = stats.format_table(("figure", "value"), [("a.b", 1234.5), ("c", True), ("d", None)])
    lines = table.splitlines()
    assert len({len(line) for line in lines}) == 1
    assert "1,234" in lines[2] or "1,235" in lines[2]
    assert "met" in lines[3]


def test_generated_webhooks_are_what_the_gateway_accepts() -> None:
    from gateway.webhooks.common import Verdict
    from gateway.webhooks.meta import parse_whatsapp, signature_verdict

    build = load.make_factory(
        {
            "kind": "whatsapp",
            "path": "/api/v1/webhooks/whatsapp",
            "secret": "s3cret",
            "phone_number_id": "123",
            "visitors": 10,
            "prefix": "t",
            "offset": 5,
        }
    )
    (method, path, headers, body), fields = build(7)
    assert (method, path) == ("POST", "/api/v1/webhooks/whatsapp")
    assert signature_verdict("s3cret", body, headers["X-Hub-Signature-256"]) is Verdict.OK
    [item] = parse_whatsapp(json.loads(body))
    assert item.external_id == fields["id"] == "wamid.t.12"
    assert item.account_id == "123"
