"""deploy/env.example documents every setting; deploy/make.mk fails readably without Docker."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import deploy_support as d
import pytest

ENV_EXAMPLE = d.DEPLOY / "env.example"
MAKE_MK = d.DEPLOY / "make.mk"
ASSIGNMENT = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def documented() -> tuple[set[str], set[str]]:
    """(compose-only names, settings names) in env.example."""
    text = ENV_EXAMPLE.read_text()
    compose_part, _, settings_part = text.partition("# --- every service")
    assert settings_part, "env.example lost its section headers"
    return set(ASSIGNMENT.findall(compose_part)), set(ASSIGNMENT.findall(settings_part))


def test_env_example_documents_every_setting_the_code_reads():
    _, settings = documented()
    missing = sorted(d.all_env_names() - settings)
    assert not missing, f"undocumented settings: {missing}"


def test_env_example_names_only_settings_the_code_reads():
    compose_only, settings = documented()
    unknown = sorted(settings - d.all_env_names())
    assert not unknown, f"env.example documents names no service reads: {unknown}"
    assert not compose_only & d.all_env_names(), "a setting in the compose-only section"


def test_env_example_documents_every_variable_compose_uses():
    seen: set[str] = set()
    d.interpolate_tree(d.load_compose_raw(), {}, seen)
    compose_only, settings = documented()
    missing = sorted(seen - compose_only - settings)
    assert not missing, f"docker-compose.yml uses undocumented variables: {missing}"


def test_env_example_values_are_accepted_by_the_settings(monkeypatch):
    # Copying env.example to .env must give services that start.
    text = ENV_EXAMPLE.read_text()
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, re.MULTILINE))
    for name in d.all_env_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    for service in d.APP_SERVICES:
        d.settings_class(service)(_env_file=None)


def test_settings_check_rejects_a_bad_value(monkeypatch):
    monkeypatch.setenv("GATEWAY_PORT", "not-a-port")
    with pytest.raises(ValueError):
        d.settings_class("gateway")(_env_file=None)


# --- make up / make down ----------------------------------------------------------------------


def make(target: str, path: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    return subprocess.run(
        ["make", "--no-print-directory", "-f", str(MAKE_MK), target],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=d.ROOT,
        env={**os.environ, "PATH": path, "GATEWAY_PUBLISHED_PORT": "8000"},
    )


def fake_docker(tmp_path: Path, *, compose_ok: bool, engine_ok: bool) -> str:
    """A `docker` that logs its arguments and fails where asked; returns a PATH using it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "docker.log"
    script = f"""#!/bin/sh
echo "$*" >> {log}
case "$1 $2" in
  "compose version") exit {0 if compose_ok else 1} ;;
  "info "*|"info") exit {0 if engine_ok else 1} ;;
esac
exit 0
"""
    docker = bin_dir / "docker"
    docker.write_text(script)
    docker.chmod(0o755)
    system = [p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "docker").exists()]
    return os.pathsep.join([str(bin_dir), *system])


def docker_calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "docker.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize("target", ["up", "down"])
def test_make_without_docker_says_so(target, tmp_path):
    path = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "docker").exists()
    )
    result = make(target, path, tmp_path)
    assert result.returncode != 0
    assert "'docker' command was not found" in result.stderr


@pytest.mark.parametrize("target", ["up", "down"])
def test_make_without_the_compose_plugin_says_so(target, tmp_path):
    result = make(target, fake_docker(tmp_path, compose_ok=False, engine_ok=True), tmp_path)
    assert result.returncode != 0
    assert "Compose plugin is missing" in result.stderr
    assert not [c for c in docker_calls(tmp_path) if c.startswith("compose up")]


def test_make_up_without_an_engine_says_so(tmp_path):
    result = make("up", fake_docker(tmp_path, compose_ok=True, engine_ok=False), tmp_path)
    assert result.returncode != 0
    assert "no Docker engine is reachable" in result.stderr
    assert not [c for c in docker_calls(tmp_path) if c.startswith("compose up")]


def test_make_up_builds_starts_and_prints_the_gateway(tmp_path):
    result = make("up", fake_docker(tmp_path, compose_ok=True, engine_ok=True), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "compose up -d --build" in docker_calls(tmp_path)
    assert "http://localhost:8000" in result.stdout


def test_make_down_stops_the_stack(tmp_path):
    result = make("down", fake_docker(tmp_path, compose_ok=True, engine_ok=True), tmp_path)
    assert result.returncode == 0, result.stderr
    assert docker_calls(tmp_path)[-1] == "compose down"
