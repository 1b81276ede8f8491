"""deploy/Dockerfile and .dockerignore: a small non-root image built from the lock file."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass, field

import deploy_support as d
import pytest

DOCKERFILE = d.DEPLOY / "Dockerfile"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in joined.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            parts = rest.split()
            base = re.sub(
                r"\$\{(\w+)\}", lambda m: global_args.get(m.group(1), m.group(0)), parts[0]
            )
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages:
            if keyword == "ARG":
                key, _, value = rest.partition("=")
                global_args[key] = value
        else:
            stages[-1].instructions.append((keyword, rest))
    return global_args, stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse(DOCKERFILE.read_text())[1]


def runs(stage: Stage) -> list[str]:
    return [rest for keyword, rest in stage.instructions if keyword == "RUN"]


def test_multi_stage_with_a_slim_runtime(stages):
    assert len(stages) >= 2
    assert stages[-1].base == "python:3.11-slim"
    # The virtualenv's interpreter is a symlink: builder and runtime must share the base.
    assert stages[0].base == stages[-1].base


def test_runtime_runs_as_a_non_root_user(stages):
    users = [rest for keyword, rest in stages[-1].instructions if keyword == "USER"]
    assert users, "no USER in the final stage"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, users[-1]
    keywords = [keyword for keyword, _ in stages[-1].instructions]
    assert keywords.index("USER") < keywords.index("CMD"), "USER must come before CMD"


def test_dependencies_come_from_the_lock_file(stages):
    builder = stages[0]
    syncs = [r for r in runs(builder) if "uv sync" in r]
    assert syncs, "the builder never runs uv sync"
    for command in syncs:
        for part in command.split(";"):
            if "uv sync" in part:
                assert "--frozen" in part and "--no-dev" in part, part
    assert any('--package "base-${SERVICE}"' in c for c in syncs)
    copies = [(i, rest) for i, (k, rest) in enumerate(builder.instructions) if k == "COPY"]
    first_sync = next(i for i, (k, r) in enumerate(builder.instructions) if "uv sync" in r)
    before = " ".join(rest for i, rest in copies if i < first_sync)
    assert "uv.lock" in before, "copy uv.lock before the first sync"
    # Every workspace member's metadata before the first (cached) sync, sources after it.
    members = ["shared", *(f"services/{s}" for s in d.APP_SERVICES)]
    for member in members:
        assert f"{member}/pyproject.toml" in before, member
    assert "COPY services services" not in before


def test_every_service_is_a_package_in_the_lock():
    lock = tomllib.loads((d.ROOT / "uv.lock").read_text())
    packages = {p["name"] for p in lock["package"]}
    for service in d.APP_SERVICES:
        assert f"base-{service}" in packages, service


def test_build_arg_and_copied_paths_exist(stages):
    builder = stages[0]
    assert ("ARG", "SERVICE") in builder.instructions
    for keyword, rest in builder.instructions:
        if keyword != "COPY" or rest.startswith("--from"):
            continue
        *sources, _target = rest.split()
        for source in sources:
            assert (d.ROOT / source).exists(), f"COPY of missing {source}"


def test_runtime_takes_only_the_venv_and_sources(stages):
    copies = [rest for keyword, rest in stages[-1].instructions if keyword == "COPY"]
    assert copies
    builder = stages[0].name
    allowed = {"/app/.venv", "/app/pyproject.toml", "/app/shared", "/app/services"}
    allowed.add("/app/deploy/migrate.py")
    for rest in copies:
        assert rest.startswith(f"--from={builder} "), f"runtime copies from the context: {rest}"
        source = rest.split()[1]
        assert source in allowed, source
    # Build tools stay in the builder.
    assert not any("uv" in r.split() or "pip install" in r for r in runs(stages[-1]))


def test_healthcheck_and_command(stages):
    final = dict(stages[-1].instructions)
    assert "HEALTHCHECK" in final
    assert "/health" in final["HEALTHCHECK"]
    assert "python -m" in final["CMD"] and "exec" in final["CMD"]


def test_parser_sees_a_root_image_as_root():
    _, parsed = parse("FROM python:3.11-slim AS b\nRUN true\nFROM python:3.11-slim\nUSER root\n")
    assert [k for k, _ in parsed[-1].instructions] == ["USER"]
    assert parsed[-1].instructions[-1][1] == "root"


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes."""
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        candidates = [pattern, pattern.removeprefix("**/")]
        parts = path.split("/")
        prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        if any(fnmatch.fnmatchcase(p, c) for p in prefixes for c in candidates) or (
            pattern.startswith("**/")
            and any(fnmatch.fnmatchcase(part, pattern[3:]) for part in parts)
        ):
            result = not negate
    return result


def dockerignore() -> list[str]:
    lines = (d.ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_dockerignore_keeps_what_the_build_needs():
    patterns = dockerignore()
    needed = [
        "pyproject.toml",
        "uv.lock",
        "shared/pyproject.toml",
        "shared/src/shared/settings.py",
        "services/gateway/pyproject.toml",
        "services/gateway/src/gateway/__main__.py",
        "services/workspaces/alembic.ini",
        "services/workspaces/migrations/env.py",
        "deploy/migrate.py",
    ]
    for path in needed:
        assert (d.ROOT / path).exists(), path
        assert not ignored(path, patterns), f".dockerignore drops {path}"


def test_dockerignore_drops_local_state_and_secrets():
    patterns = dockerignore()
    for path in [".venv/bin/python", ".git/HEAD", ".env", "services/gateway/.env", "tests/x.py"]:
        assert ignored(path, patterns), f".dockerignore keeps {path}"
    pycache = "shared/src/shared/__pycache__/settings.cpython-311.pyc"
    assert ignored(pycache, patterns)
