"""Property-based fuzzing of the whole API (schemathesis over the merged OpenAPI document).

Positive and negative cases for every operation, with an owner's token and anonymously,
within a fixed time budget: no input may produce a server error. Marked `fuzz` so
`make test-fast` can leave it out; `make test` runs it.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy

from tests.e2e.conftest import System
from tests.security.objects import make_owner

pytestmark = pytest.mark.fuzz

BUDGET_SECONDS = 55.0  # per principal: two runs, about two minutes in all
EXAMPLES_PER_OPERATION = 25
# Deleting the fuzzing owner would turn the rest of its run into 401s.
SKIPPED_FOR_OWNER = {("DELETE", "/api/v1/users/me")}
# The fuzzer's own address (the test client is a trusted proxy), so its failed logins never
# slow down the other tests' logins from loopback.
FUZZER_ADDRESS = "198.18.0.77"


@dataclass
class Run:
    deadline: float
    cases: int = 0
    errors: list[str] = field(default_factory=list)


def streaming(operation: schemathesis.APIOperation) -> bool:
    responses = operation.definition.raw.get("responses", {})
    return any("text/event-stream" in (r.get("content") or {}) for r in responses.values())


def exercise(
    system: System,
    headers: dict[str, str],
    run: Run,
    label: str,
    strategy: SearchStrategy[schemathesis.Case],
) -> None:
    """Up to EXAMPLES_PER_OPERATION cases of one operation in one mode; 5xx are recorded."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=strategy)
    def check(case: schemathesis.Case) -> None:
        if time.monotonic() > run.deadline:
            return
        run.cases += 1
        try:
            response = case.call(base_url=system.gateway, headers=headers, timeout=10)
        except Exception as exc:  # an answer that never came is a failure too
            run.errors.append(f"{label}: {type(exc).__name__}: {exc}")
            return
        if response.status_code >= 500:
            run.errors.append(
                f"{label}: {response.status_code} {response.text[:200]} <- {case.as_curl_command()}"
            )

    with contextlib.suppress(Unsatisfiable):  # an operation with nothing to generate
        check()


def fuzz(system: System, headers: dict[str, str], skipped: set[tuple[str, str]]) -> Run:
    schema = schemathesis.openapi.from_url(f"{system.gateway}/api/v1/openapi.json")
    run = Run(deadline=time.monotonic() + BUDGET_SECONDS)
    headers = {**headers, "X-Forwarded-For": FUZZER_ADDRESS}
    for operation in [r.ok() for r in schema.get_all_operations()]:
        key = (operation.method.upper(), operation.path)
        if key in skipped or streaming(operation):
            continue
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            if time.monotonic() > run.deadline:
                return run
            strategy = operation.as_strategy(generation_mode=mode)
            exercise(system, headers, run, f"{key[0]} {key[1]} {mode}", strategy)
    return run


async def test_no_input_from_an_owner_is_a_server_error(
    security_system: System, gw: httpx.AsyncClient
) -> None:
    owner = await make_owner(gw, "fuzz")
    run = fuzz(security_system, owner["headers"], SKIPPED_FOR_OWNER)
    print(f"fuzz as owner: {run.cases} cases")
    assert run.cases > 200
    assert not run.errors, "\n".join(run.errors[:20])


def test_no_anonymous_input_is_a_server_error(security_system: System) -> None:
    run = fuzz(security_system, {}, set())
    print(f"fuzz anonymous: {run.cases} cases")
    assert run.cases > 200
    assert not run.errors, "\n".join(run.errors[:20])
