"""The pure parts of the benchmark: percentiles, targets, the results file, comparisons.

Nothing here starts a process or opens a socket, so it is unit tested on its own
(`tests/bench/test_harness.py`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

RESULTS_VERSION = 1

# Whether a bigger number is better, by unit. Ratios and rates: higher is better; times,
# latencies, counts of lost messages and memory: lower is better.
HIGHER_IS_BETTER = {"ratio": True, "/s": True, "ms": False, "s": False, "count": False, "MB": False}

# A figure is a regression when it moved the wrong way by more than this fraction.
DEFAULT_TOLERANCE = 0.10


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks.

    Same definition as numpy's default ("linear"); NaN for an empty sample.
    """
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: Iterable[float]) -> dict[str, float]:
    """p50/p90/p99/max in milliseconds of a sample of durations in seconds."""
    ms = sorted(s * 1000 for s in seconds)
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3) if ms else math.nan,
        "p90_ms": round(percentile(ms, 90), 3) if ms else math.nan,
        "p99_ms": round(percentile(ms, 99), 3) if ms else math.nan,
        "max_ms": round(ms[-1], 3) if ms else math.nan,
    }


@dataclass(frozen=True)
class Target:
    """`value <op> limit`, with op one of >=, <=, <, >, ==."""

    op: str
    limit: float

    def met(self, value: float) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return {
            ">=": value >= self.limit,
            ">": value > self.limit,
            "<=": value <= self.limit,
            "<": value < self.limit,
            "==": value == self.limit,
        }[self.op]

    def __str__(self) -> str:
        return f"{self.op} {self.limit:g}"


def figure(
    group: str,
    name: str,
    value: float,
    unit: str,
    target: Target | None = None,
    note: str = "",
    higher_is_better: bool | None = None,
) -> dict[str, Any]:
    """One row of the results: a measured value, its unit, and its target if it has one.

    Which way is better defaults by unit (rates up, times down) and can be given explicitly
    (a ratio of latencies is better lower).
    """
    if unit not in HIGHER_IS_BETTER:
        raise ValueError(f"unknown unit {unit!r}")
    if higher_is_better is None:
        higher_is_better = HIGHER_IS_BETTER[unit]
    if isinstance(value, float) and not math.isnan(value):
        value = round(value, 4)
    row: dict[str, Any] = {
        "key": f"{group}.{name}",
        "group": group,
        "name": name,
        "value": value,
        "unit": unit,
        "higher_is_better": higher_is_better,
        "target": str(target) if target else None,
        "met": target.met(value) if target else None,
    }
    if note:
        row["note"] = note
    return row


def results_document(
    figures: list[dict[str, Any]], machine: dict[str, Any], run: dict[str, Any]
) -> dict[str, Any]:
    keys = [f["key"] for f in figures]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"duplicate figures: {duplicates}")
    return {"version": RESULTS_VERSION, "machine": machine, "run": run, "figures": figures}


def check_results_shape(doc: Any) -> list[str]:
    """Problems with a results file (empty list when it is well formed)."""
    problems: list[str] = []
    if not isinstance(doc, dict):
        return ["not a JSON object"]
    if doc.get("version") != RESULTS_VERSION:
        problems.append(f"version is {doc.get('version')!r}, expected {RESULTS_VERSION}")
    for section in ("machine", "run"):
        if not isinstance(doc.get(section), dict):
            problems.append(f"{section!r} missing or not an object")
    for key in ("cpu_model", "cores", "ram_mb", "python", "git_commit", "versions"):
        if isinstance(doc.get("machine"), dict) and key not in doc["machine"]:
            problems.append(f"machine.{key} missing")
    figures = doc.get("figures")
    if not isinstance(figures, list) or not figures:
        problems.append("'figures' missing or empty")
        return problems
    seen: set[str] = set()
    for i, row in enumerate(figures):
        if not isinstance(row, dict):
            problems.append(f"figures[{i}] is not an object")
            continue
        for key in ("key", "value", "unit", "target", "met"):
            if key not in row:
                problems.append(f"figures[{i}].{key} missing")
        if row.get("unit") not in HIGHER_IS_BETTER:
            problems.append(f"figures[{i}].unit {row.get('unit')!r} unknown")
        if row.get("key") in seen:
            problems.append(f"figures[{i}].key {row.get('key')!r} repeated")
        seen.add(row.get("key"))
    return problems


def compare(
    current: dict[str, Any], previous: dict[str, Any], tolerance: float = DEFAULT_TOLERANCE
) -> list[dict[str, Any]]:
    """Per figure present in both runs: ratio current/previous and whether it regressed.

    A figure regresses when it moved the wrong way by more than `tolerance` (10 %), or when it
    met its target before and misses it now. Counts that must stay zero (lost, duplicated)
    regress on any increase.
    """
    before = {f["key"]: f for f in previous.get("figures", [])}
    rows: list[dict[str, Any]] = []
    for fig in current.get("figures", []):
        old = before.get(fig["key"])
        if old is None:
            continue
        new_value, old_value = fig["value"], old["value"]
        higher = fig.get("higher_is_better", HIGHER_IS_BETTER[fig["unit"]])
        ratio = _ratio(new_value, old_value)
        if fig["unit"] == "count":
            worse = _num(new_value) > _num(old_value)
            better = _num(new_value) < _num(old_value)
        elif math.isnan(ratio):
            worse = better = False
        else:
            worse = ratio < 1 - tolerance if higher else ratio > 1 + tolerance
            better = ratio > 1 + tolerance if higher else ratio < 1 - tolerance
        lost_target = old.get("met") is True and fig.get("met") is False
        rows.append(
            {
                "key": fig["key"],
                "unit": fig["unit"],
                "previous": old_value,
                "current": new_value,
                "ratio": round(ratio, 3) if math.isfinite(ratio) else None,
                "regression": bool(worse or lost_target),
                "improvement": bool(better and not lost_target),
            }
        )
    return rows


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _ratio(new: Any, old: Any) -> float:
    a, b = _num(new), _num(old)
    if math.isnan(a) or math.isnan(b):
        return math.nan
    if b == 0:
        return 1.0 if a == 0 else math.inf
    return a / b


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain-text table with aligned columns (also valid Markdown)."""
    text_rows = [[_cell(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in text_rows
    ]
    return "\n".join([line, rule, *body])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "met" if value else "MISSED"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if value == 0 or abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)
