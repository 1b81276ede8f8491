"""Helpers for the deployment checks: everything here works without a Docker engine."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, AliasPath
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMAS = Path(__file__).resolve().parent / "schemas"

APP_SERVICES = ("gateway", "workspaces", "connectors", "conversations")
DEFAULT_PORTS = {"gateway": 8000, "workspaces": 8001, "connectors": 8002, "conversations": 8003}

# Settings a deployment must set explicitly, even though the code has a local default: the
# defaults point at 127.0.0.1 or are development secrets. Besides these, every service needs
# the addresses and token keys of the services it calls (`calls`) and, when it reads one,
# PUBLIC_BASE_URL.
REQUIRED_EVERYWHERE = {"DATABASE_URL", "RABBITMQ_URL"}
REQUIRED_BY_SERVICE = {
    "gateway": {
        "SECRET_KEY",
        "FIRST_SUPERUSER_PASSWORD",
        "META_APP_SECRET",
        "META_VERIFY_TOKEN",
        "TWILIO_AUTH_TOKEN",
    },
    "workspaces": set(),
    "connectors": {"CONNECTOR_ENCRYPTION_KEYS", "PUBLIC_BASE_URL"},
    "conversations": set(),
}
# Names that hold credentials: never in a ConfigMap, always in a Secret.
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|_TOKEN$|_KEYS?$|^DATABASE_URL$|^RABBITMQ_URL$)")


# --- settings the code reads ----------------------------------------------------------------


def settings_class(service: str) -> type[BaseSettings]:
    """The pydantic Settings class a service builds at startup (`None`: the shared base)."""
    if service == "shared":
        from shared.settings import ServiceSettings

        return ServiceSettings
    return importlib.import_module(f"{service}.settings").Settings


@cache
def env_names(service: str) -> frozenset[str]:
    """Environment variable names a service's Settings read (case-insensitive: upper-cased)."""
    cls = settings_class(service)
    config = cls.model_config
    prefix = config.get("env_prefix", "")
    names: set[str] = set()
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        if alias is None:
            names.add(f"{prefix}{field.alias or name}".upper())
        elif isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            for choice in alias.choices:
                if isinstance(choice, str):
                    names.add(choice.upper())
                elif isinstance(choice, AliasPath) and isinstance(choice.path[0], str):
                    names.add(choice.path[0].upper())
        elif isinstance(alias, AliasPath) and isinstance(alias.path[0], str):
            names.add(alias.path[0].upper())
    return frozenset(names)


@cache
def required_names(service: str) -> frozenset[str]:
    """Settings without a default, plus those a deployment must set (see above)."""
    cls = settings_class(service)
    without_default = {
        (field.validation_alias if isinstance(field.validation_alias, str) else name).upper()
        for name, field in cls.model_fields.items()
        if field.is_required()
    }
    wiring = set(calls(service).values()) | set(token_keys(service))
    if "PUBLIC_BASE_URL" in env_names(service):
        wiring.add("PUBLIC_BASE_URL")
    return frozenset(without_default | REQUIRED_EVERYWHERE | REQUIRED_BY_SERVICE[service] | wiring)


@cache
def calls(service: str) -> dict[str, str]:
    """The services this one calls, from its Settings: `<other service>_url` fields, as
    {service called: the variable holding its address}."""
    found: dict[str, str] = {}
    for name in settings_class(service).model_fields:
        target = name.removesuffix("_url")
        if name.endswith("_url") and target in APP_SERVICES and target != service:
            found[target] = name.upper()
    return found


@cache
def token_keys(service: str) -> dict[str, str]:
    """Internal-token keys a service must be given, as {variable: audience} (shared.tokens):
    those of the services it calls, and its own (every service the gateway forwards to)."""
    keys = {f"{target.upper()}_TOKEN_KEY": target for target in calls(service)}
    if service != "gateway":
        keys["INTERNAL_TOKEN_KEY"] = service
    return keys


def all_env_names() -> frozenset[str]:
    return frozenset().union(*(env_names(s) for s in APP_SERVICES))


# --- compose --------------------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(ValueError):
    pass


def interpolate(text: str, env: Mapping[str, str], seen: set[str] | None = None) -> str:
    """Compose's variable substitution: $$, $VAR, ${VAR}, ${VAR:-x}, ${VAR-x}, ${VAR:?x},
    ${VAR?x}, ${VAR:+x}, ${VAR+x}, with nested substitutions in x. Names used go in `seen`."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$":
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            depth, j = 1, i + 2
            while j < len(text) and depth:
                if text.startswith("${", j):
                    depth, j = depth + 1, j + 2
                    continue
                depth -= text[j] == "}"
                j += 1
            if depth:
                raise InterpolationError(f"unclosed '${{' in {text!r}")
            out.append(_substitute(text[i + 2 : j - 1], env, seen, text))
            i = j
        elif match := _NAME.match(text, i + 1):
            if seen is not None:
                seen.add(match.group())
            out.append(env.get(match.group(), ""))
            i = match.end()
        else:
            raise InterpolationError(f"invalid '$' in {text!r} (write '$$' for a literal '$')")
    return "".join(out)


def _substitute(body: str, env: Mapping[str, str], seen: set[str] | None, text: str) -> str:
    match = _NAME.match(body)
    if not match:
        raise InterpolationError(f"invalid variable name in {text!r}")
    name, rest = match.group(), body[match.end() :]
    if seen is not None:
        seen.add(name)
    value = env.get(name)
    if rest == "":
        return value or ""
    for op in (":-", ":?", ":+", "-", "?", "+"):
        if rest.startswith(op):
            arg = interpolate(rest[len(op) :], env, seen)
            unset_or_empty = not value if op.startswith(":") else value is None
            if op.endswith("-"):
                return arg if unset_or_empty else value or ""
            if op.endswith("?"):
                if unset_or_empty:
                    raise InterpolationError(f"{name} is required: {arg}")
                return value or ""
            return "" if unset_or_empty else arg
    raise InterpolationError(f"invalid substitution '${{{body}}}' in {text!r}")


def interpolate_tree(node: Any, env: Mapping[str, str], seen: set[str] | None = None) -> Any:
    if isinstance(node, str):
        return interpolate(node, env, seen)
    if isinstance(node, list):
        return [interpolate_tree(item, env, seen) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env, seen) for key, value in node.items()}
    return node


def load_compose_raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def load_compose(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The compose file as compose sees it with nothing set in the environment."""
    return interpolate_tree(load_compose_raw(), env or {})


def as_env_dict(environment: Any) -> dict[str, str | None]:
    if environment is None:
        return {}
    if isinstance(environment, dict):
        return {str(k): (None if v is None else str(v)) for k, v in environment.items()}
    result: dict[str, str | None] = {}
    for item in environment:
        key, sep, value = str(item).partition("=")
        result[key] = value if sep else None
    return result


def command_argv(command: Any) -> list[str]:
    if command is None:
        return []
    return command.split() if isinstance(command, str) else [str(c) for c in command]


def check_command(argv: list[str]) -> str | None:
    """What is wrong with a service command (`python -m <module>` or `python <file>`), if any."""
    if len(argv) < 2 or argv[0] not in {"python", "python3"}:
        return f"expected a python command, got {argv}"
    if argv[1] == "-m":
        module = argv[2] if len(argv) > 2 else ""
        main = ROOT / "services" / module / "src" / module / "__main__.py"
        return None if module and main.is_file() else f"no module {module!r}: {main} is missing"
    script = ROOT / argv[1]
    return None if script.is_file() else f"no script {argv[1]!r} in the repository"


def compose_plugin_works() -> bool:
    docker = shutil.which("docker")
    if not docker:
        return False
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30)
    return probe.returncode == 0
