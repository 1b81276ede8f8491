"""docker-compose.yml: loads, is valid Compose, and wires the platform the way it runs."""

from __future__ import annotations

import json
import shutil
import subprocess
from urllib.parse import urlsplit

import deploy_support as d
import jsonschema
import pytest

COMPLETED = "service_completed_successfully"
HEALTHY = "service_healthy"


def app_services(compose: dict) -> dict[str, dict]:
    """Services built from this repository's Dockerfile."""
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def is_one_shot(compose: dict, name: str) -> bool:
    svc = compose["services"][name]
    awaited = [
        deps[name]["condition"]
        for other in compose["services"].values()
        if isinstance(deps := other.get("depends_on"), dict) and name in deps
    ]
    return str(svc.get("restart", "no")) == "no" and bool(awaited) and set(awaited) == {COMPLETED}


def test_compose_config_with_the_docker_plugin():
    if not d.compose_plugin_works():
        pytest.skip("the docker compose plugin is not installed here")
    result = subprocess.run(
        [shutil.which("docker") or "docker", "compose", "-f", str(d.COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=d.ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_compose_interpolates_with_an_empty_environment():
    seen: set[str] = set()
    d.interpolate_tree(d.load_compose_raw(), {}, seen)
    # Every setting has a default: `make up` works on a fresh checkout without a `.env`.
    assert {"SECRET_KEY", "POSTGRES_PASSWORD", "RABBITMQ_PASSWORD"} <= seen


def test_compose_interpolation_helper_rejects_mistakes():
    # The interpolation check above is only as good as the parser behind it.
    with pytest.raises(d.InterpolationError):
        d.interpolate("${UNCLOSED", {})
    with pytest.raises(d.InterpolationError):
        d.interpolate("$ 1", {})
    with pytest.raises(d.InterpolationError):
        d.interpolate("${REQUIRED:?set it}", {})
    assert d.interpolate("${A:-x${B:-y}}-$$-${C-z}", {"C": ""}) == "xy-$-"


def test_compose_file_matches_the_compose_schema(compose_schema):
    validator = jsonschema.Draft201909Validator(compose_schema)
    errors = sorted(validator.iter_errors(d.load_compose()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_compose_schema_check_catches_a_bad_key(compose_schema):
    broken = d.load_compose()
    broken["services"]["gateway"]["helthcheck"] = broken["services"]["gateway"]["healthcheck"]
    assert not jsonschema.Draft201909Validator(compose_schema).is_valid(broken)


@pytest.fixture(scope="module")
def compose_schema() -> dict:
    schema = json.loads((d.SCHEMAS / "compose-spec.json").read_text())
    # The vendored schema predates the top-level project `name`, a string in the current
    # specification.
    schema["properties"].setdefault("name", {"type": "string"})
    return schema


@pytest.fixture(scope="module")
def compose() -> dict:
    return d.load_compose()


def test_compose_runs_the_whole_platform(compose):
    names = set(compose["services"])
    assert {"postgres", "rabbitmq", "migrate", *d.APP_SERVICES} <= names
    assert compose["services"]["postgres"]["image"].startswith("postgres:15")
    assert compose["services"]["rabbitmq"]["image"].startswith("rabbitmq:3.10-management")


def test_every_long_running_service_has_a_healthcheck(compose):
    for name, svc in compose["services"].items():
        check = svc.get("healthcheck") or {}
        if is_one_shot(compose, name):
            continue
        assert not check.get("disable"), f"{name}: healthcheck disabled"
        test = check.get("test")
        assert test and test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1, f"{name}: {check}"


def test_infrastructure_healthchecks_probe_the_real_thing(compose):
    postgres = " ".join(compose["services"]["postgres"]["healthcheck"]["test"])
    rabbit = compose["services"]["rabbitmq"]["healthcheck"]["test"]
    assert "pg_isready" in postgres
    assert rabbit[1:] == ["rabbitmq-diagnostics", "-q", "ping"]


def test_app_healthchecks_ask_ready_on_the_port_the_service_listens_on(compose):
    for name in d.APP_SERVICES:
        svc = compose["services"][name]
        env = d.as_env_dict(svc.get("environment"))
        port = env.get(f"{name.upper()}_PORT") or d.DEFAULT_PORTS[name]
        test = svc["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"], f"{name}: slim images have no curl"
        assert f"127.0.0.1:{port}/ready" in test[3], f"{name}: {test}"
        assert "urllib" in test[3]


def test_depends_on_uses_conditions_on_existing_services(compose):
    for name, svc in compose["services"].items():
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on needs conditions"
        for dep, spec in deps.items():
            assert dep in compose["services"], f"{name} depends on unknown {dep}"
            condition = spec["condition"]
            if is_one_shot(compose, dep):
                assert condition == COMPLETED, f"{name} -> {dep}"
            else:
                assert condition == HEALTHY, f"{name} -> {dep}: {condition}"
                assert compose["services"][dep].get("healthcheck"), f"{dep} has no healthcheck"


def test_services_start_after_infrastructure_and_migrations(compose):
    for name in d.APP_SERVICES:
        deps = compose["services"][name]["depends_on"]
        assert deps["postgres"]["condition"] == HEALTHY
        assert deps["rabbitmq"]["condition"] == HEALTHY
        assert deps["migrate"]["condition"] == COMPLETED
    assert compose["services"]["migrate"]["depends_on"]["postgres"]["condition"] == HEALTHY
    assert is_one_shot(compose, "migrate")


def test_dependency_graph_has_no_cycle(compose):
    graph = {n: set(s.get("depends_on", {})) for n, s in compose["services"].items()}
    done: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"cycle: {' -> '.join((*path, node))}"
        if node not in done:
            for dep in graph[node]:
                visit(dep, (*path, node))
            done.add(node)

    for node in graph:
        visit(node, ())


def published(ports: list) -> list[tuple[str, str]]:
    """(host ip, container port) of each published port, short or long syntax."""
    result = []
    for port in ports:
        if isinstance(port, dict):
            result.append((port.get("host_ip", "0.0.0.0"), str(port["target"])))
            continue
        parts = str(port).split(":")
        host_ip = parts[0] if len(parts) == 3 else "0.0.0.0"
        result.append((host_ip, parts[-1].split("/")[0]))
    return result


def test_only_the_gateway_is_published(compose):
    for name, svc in compose["services"].items():
        if name == "gateway":
            assert ("0.0.0.0", "8000") in published(svc.get("ports", []))
            continue
        assert "expose" not in svc or name not in d.APP_SERVICES
        for host_ip, target in published(svc.get("ports", [])):
            # Operator tools (the RabbitMQ management UI) are reachable from this host only.
            assert host_ip == "127.0.0.1", f"{name} publishes {target} on {host_ip}"
            assert name not in d.APP_SERVICES, f"{name} must not be published"
    assert published(compose["services"]["rabbitmq"]["ports"]) == [("127.0.0.1", "15672")]


def test_images_are_built_from_files_that_exist(compose):
    built = app_services(compose)
    assert set(built) == {"migrate", *d.APP_SERVICES}
    for name, svc in built.items():
        build = svc["build"]
        context = d.ROOT / (build if isinstance(build, str) else build.get("context", "."))
        assert context.is_dir(), f"{name}: no build context {context}"
        dockerfile = context / (
            build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
        )
        assert dockerfile.is_file(), f"{name}: no Dockerfile {dockerfile}"
        target = build.get("args", {}).get("SERVICE")
        expected = "all" if name == "migrate" else name
        assert target == expected, f"{name}: SERVICE build arg {target!r}"
        assert svc.get("image"), f"{name}: name the image so the build is reused"


def test_commands_run_modules_and_scripts_that_exist(compose):
    for name, svc in app_services(compose).items():
        argv = d.command_argv(svc.get("command"))
        problem = d.check_command(argv)
        assert problem is None, f"{name}: {problem}"
        if name in d.APP_SERVICES:
            assert argv == ["python", "-m", name]
    assert d.command_argv(compose["services"]["migrate"]["command"]) == [
        "python",
        "deploy/migrate.py",
    ]


def test_command_check_rejects_a_missing_module():
    assert d.check_command(["python", "-m", "billing"]) is not None
    assert d.check_command(["python", "deploy/nothing.py"]) is not None
    assert d.check_command(["uvicorn", "gateway.main:app"]) is not None


def test_environment_names_are_settings_the_service_reads(compose):
    for name, svc in app_services(compose).items():
        reader = "shared" if name == "migrate" else name
        allowed = d.env_names(reader) if reader != "shared" else d.env_names("workspaces")
        env = d.as_env_dict(svc.get("environment"))
        unknown = sorted(set(env) - allowed)
        assert not unknown, f"{name} sets names its code never reads: {unknown}"


def test_required_settings_are_set(compose):
    for name in d.APP_SERVICES:
        env = d.as_env_dict(compose["services"][name].get("environment"))
        missing = sorted(d.required_names(name) - set(env))
        assert not missing, f"{name} lacks {missing}"
    assert "DATABASE_URL" in d.as_env_dict(compose["services"]["migrate"]["environment"])


def test_secrets_come_from_the_environment_or_pass_through(compose):
    raw = d.load_compose_raw()
    for name in d.APP_SERVICES:
        env = d.as_env_dict(raw["services"][name].get("environment"))
        for key, value in env.items():
            if d.SECRET_NAME.search(key) and key not in {"DATABASE_URL", "RABBITMQ_URL"}:
                # A service's INTERNAL_TOKEN_KEY is the <SERVICE>_TOKEN_KEY of the environment.
                source = (
                    f"{d.token_keys(name)[key].upper()}_TOKEN_KEY"
                    if key == "INTERNAL_TOKEN_KEY"
                    else key
                )
                assert value is None or value.startswith(f"${{{source}"), f"{name}: {key}={value}"


def test_internal_addresses_point_at_compose_services(compose):
    services = compose["services"]
    gateway = d.as_env_dict(services["gateway"]["environment"])
    for target in ("workspaces", "connectors", "conversations"):
        url = urlsplit(gateway[f"{target.upper()}_URL"])
        port = d.as_env_dict(services[target]["environment"]).get(f"{target.upper()}_PORT")
        assert url.hostname == target
        assert url.port == int(port or d.DEFAULT_PORTS[target])
    pg = services["postgres"]["environment"]
    rabbit = services["rabbitmq"]["environment"]
    for name, svc in app_services(compose).items():
        env = d.as_env_dict(svc["environment"])
        db = urlsplit(env["DATABASE_URL"])
        assert (db.hostname, db.username, db.password, db.path) == (
            "postgres",
            pg["POSTGRES_USER"],
            pg["POSTGRES_PASSWORD"],
            "/" + pg["POSTGRES_DB"],
        ), f"{name}: {env['DATABASE_URL']}"
        if name == "migrate":
            continue
        amqp = urlsplit(env["RABBITMQ_URL"])
        assert (amqp.hostname, amqp.username, amqp.password) == (
            "rabbitmq",
            rabbit["RABBITMQ_DEFAULT_USER"],
            rabbit["RABBITMQ_DEFAULT_PASS"],
        ), f"{name}: {env['RABBITMQ_URL']}"


def test_shared_anchor_holds_only_settings_every_service_reads():
    raw = d.load_compose_raw()
    common = frozenset.intersection(*(d.env_names(s) for s in d.APP_SERVICES))
    shared = set(raw["x-service-env"])
    assert shared <= common, sorted(shared - common)


def test_data_lives_in_named_volumes(compose):
    volumes = set(compose.get("volumes", {}))
    for name, path in (("postgres", "/var/lib/postgresql/data"), ("rabbitmq", "/var/lib/rabbitmq")):
        mounts = compose["services"][name].get("volumes", [])
        sources = [m.split(":")[0] for m in mounts if m.split(":")[1] == path]
        assert sources and sources[0] in volumes, f"{name}: {mounts}"


def test_tracing_profile_adds_jaeger_that_nothing_depends_on(compose):
    jaeger = compose["services"]["jaeger"]
    assert jaeger["profiles"] == ["tracing"]
    assert jaeger["image"].startswith("jaegertracing/all-in-one:")
    assert jaeger["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    assert published(jaeger["ports"]) == [("127.0.0.1", "16686")]
    for name, svc in compose["services"].items():
        # A dependency on a profiled service breaks `docker compose up` without the profile.
        assert "jaeger" not in svc.get("depends_on", {}), name


def test_services_export_traces_only_when_an_endpoint_is_given():
    quiet = d.load_compose()
    traced = d.load_compose({"TRACES_OTLP_ENDPOINT": "http://jaeger:4318"})
    for name in d.APP_SERVICES:
        assert not d.as_env_dict(quiet["services"][name]["environment"])[
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        ], name
        env = d.as_env_dict(traced["services"][name]["environment"])
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318", name
        # Each service is named after itself in the traces (OTEL_SERVICE_NAME unset).
        assert "OTEL_SERVICE_NAME" not in env, name


def test_every_service_gets_the_metrics_token_from_the_environment():
    # Unset, /metrics answers 404; set, Prometheus must send it as a bearer token.
    assert d.load_compose_raw()["x-service-env"]["METRICS_TOKEN"] == "${METRICS_TOKEN:-}"
