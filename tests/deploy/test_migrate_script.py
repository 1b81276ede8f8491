"""deploy/migrate.py: the one-shot migration step (its database run is exercised by `make
migrate`; these checks need no database)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import deploy_support as d
import pytest

SCRIPT = d.DEPLOY / "migrate.py"


@pytest.fixture(scope="module")
def migrate():
    spec = importlib.util.spec_from_file_location("deploy_migrate", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_service_in_order_with_its_schema(migrate):
    assert list(migrate.SCHEMAS) == list(d.APP_SERVICES)
    assert migrate.SCHEMAS["gateway"] == "identity"
    for service in ("workspaces", "connectors", "conversations"):
        assert migrate.SCHEMAS[service] == service


def test_every_service_has_an_alembic_environment(migrate):
    for service in migrate.SCHEMAS:
        ini = migrate.alembic_ini(service)
        assert ini == d.ROOT / "services" / service / "alembic.ini"
        assert ini.is_file(), f"{service}: no {ini}"
        assert (ini.parent / "migrations" / "env.py").is_file(), f"{service}: no env.py"


def test_a_missing_environment_stops_before_touching_the_database(migrate, tmp_path):
    # An unreachable database: reaching it would fail differently (and slowly).
    url = "postgresql+asyncpg://nobody@127.0.0.1:1/never"
    with pytest.raises(SystemExit, match="no Alembic environment"):
        migrate.migrate(["gateway"], url, root=tmp_path)


def test_unknown_service_is_a_usage_error():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "billing"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=d.ROOT,
    )
    assert result.returncode == 2
    assert "unknown service(s): billing" in result.stderr


def test_runs_from_the_repository_root_as_documented():
    result = subprocess.run(
        [sys.executable, "deploy/migrate.py", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=d.ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "gateway, workspaces, connectors, conversations" in " ".join(result.stdout.split())
    assert Path(d.ROOT / "deploy" / "migrate.py").is_file()
