"""Service-to-service calls, as each service's Settings declare them, work once deployed.

A service calls another through a `<service>_url` setting (conversations' CONNECTORS_URL for
the agent's calendar, the shared WORKSPACES_URL for the read-your-writes lookup...). Each
such setting left at its 127.0.0.1 default, a token key that does not match the receiver's,
or a NetworkPolicy in the way leaves a feature dead in production with every test green.
These checks derive the calls from the Settings classes, so a new one is covered at once.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import deploy_support as d
import pytest
import test_k8s as k

# --- what the code says ---------------------------------------------------------------------


def call_pairs() -> list[tuple[str, str, str]]:
    """(caller, service called, the variable holding its address)."""
    return [(s, target, var) for s in d.APP_SERVICES for target, var in d.calls(s).items()]


def test_the_calls_are_read_from_the_settings():
    # A pin on the derivation itself: if it found nothing, every check below would pass.
    assert {(caller, target) for caller, target, _ in call_pairs()} == {
        ("gateway", "workspaces"),
        ("gateway", "connectors"),
        ("gateway", "conversations"),
        ("connectors", "workspaces"),
        ("conversations", "workspaces"),
        ("conversations", "connectors"),
    }
    assert d.token_keys("conversations") == {
        "INTERNAL_TOKEN_KEY": "conversations",
        "WORKSPACES_TOKEN_KEY": "workspaces",
        "CONNECTORS_TOKEN_KEY": "connectors",
    }


# --- docker compose -------------------------------------------------------------------------

KEYS = {
    f"{s.upper()}_TOKEN_KEY": f"{s}-key-{'x' * 32}"
    for s in ("workspaces", "connectors", "conversations")
}


def compose_env(name: str, environment: dict[str, str] | None = None) -> dict[str, str | None]:
    return d.as_env_dict(d.load_compose(environment)["services"][name].get("environment"))


def compose_port(compose: dict[str, Any], service: str) -> int:
    env = d.as_env_dict(compose["services"][service].get("environment"))
    return int(env.get(f"{service.upper()}_PORT") or d.DEFAULT_PORTS[service])


def networks(svc: dict[str, Any]) -> set[str]:
    return set(svc.get("networks") or ["default"])


@pytest.mark.parametrize(("caller", "target", "var"), call_pairs())
def test_compose_points_each_call_at_the_service_on_the_network(caller, target, var):
    compose = d.load_compose()
    value = compose_env(caller).get(var)
    assert value, f"{caller} has no {var}: it would call 127.0.0.1 inside its container"
    url = urlsplit(value)
    assert (url.scheme, url.hostname, url.port) == ("http", target, compose_port(compose, target))
    services = compose["services"]
    assert networks(services[caller]) & networks(services[target]), (caller, target)


def test_compose_gives_every_reader_of_public_base_url_the_gateways_address():
    public = {"PUBLIC_BASE_URL": "https://api.example.test"}
    for service in d.APP_SERVICES:
        if "PUBLIC_BASE_URL" in d.env_names(service):
            assert (
                compose_env(service, public).get("PUBLIC_BASE_URL") == public["PUBLIC_BASE_URL"]
            ), service


@pytest.mark.parametrize("environment", [{}, KEYS], ids=["defaults", "set"])
def test_compose_gives_each_service_its_token_keys_and_no_others(environment):
    gateway = compose_env("gateway", environment)
    assert gateway.get("SECRET_KEY")
    for service in d.APP_SERVICES:
        env = compose_env(service, environment)
        held = {n for n in env if n.endswith("TOKEN_KEY") or n == "SECRET_KEY"}
        expected = set(d.token_keys(service)) | ({"SECRET_KEY"} if service == "gateway" else set())
        assert held == expected, f"{service} holds {sorted(held)}"
        for var, audience in d.token_keys(service).items():
            # The receiver verifies with what the gateway and every other caller sign with.
            assert env[var] == gateway[f"{audience.upper()}_TOKEN_KEY"], (service, var)
            if environment:
                assert env[var] == environment[f"{audience.upper()}_TOKEN_KEY"], (service, var)
            assert len(env[var] or "") >= 32, (service, var)


# --- Kubernetes -----------------------------------------------------------------------------


@pytest.fixture(params=sorted(k.RENDERERS), scope="module")
def base(request) -> list[dict]:
    return k.RENDERERS[request.param](k.BASE)


def container_env(deployment: dict, docs: list[dict]) -> dict[str, str]:
    """What one Deployment's container gets: plain values, and `secret:<name>/<key>` for
    values that come from a Secret."""
    configmaps, secrets = k.by_kind(docs, "ConfigMap"), k.by_kind(docs, "Secret")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(configmaps[source["configMapRef"]["name"]].get("data", {}))
        if "secretRef" in source:
            ref = source["secretRef"]["name"]
            env.update({key: f"secret:{ref}/{key}" for key in secrets[ref].get("stringData", {})})
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
            continue
        source = entry["valueFrom"]
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            assert ref["key"] in secrets[ref["name"]].get("stringData", {}), entry
            env[entry["name"]] = f"secret:{ref['name']}/{ref['key']}"
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[entry["name"]] = configmaps[ref["name"]]["data"][ref["key"]]
    return env


def pod_labels(deployment: dict) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]


def container_ports(deployment: dict) -> dict[str, int]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {p.get("name", str(p["containerPort"])): p["containerPort"] for p in container["ports"]}


def served_by(docs: list[dict], host: str, port: int) -> list[dict]:
    """The Deployments whose pods the Kubernetes Service `host` sends port `port` to."""
    service = k.by_kind(docs, "Service").get(host)
    assert service is not None, f"no Service {host}"
    (entry,) = [p for p in service["spec"]["ports"] if p["port"] == port]
    selected = [
        dep
        for dep in k.by_kind(docs, "Deployment").values()
        if k.selects({"matchLabels": service["spec"]["selector"]}, pod_labels(dep))
    ]
    for dep in selected:
        target = entry.get("targetPort", port)
        assert target in container_ports(dep) or target in container_ports(dep).values(), dep
    return selected


def callers(docs: list[dict]) -> list[tuple[str, dict, str, str]]:
    """(Deployment name, Deployment, service called, its variable) for every pod that runs a
    service whose Settings call another."""
    return [
        (name, dep, target, var)
        for name, dep in k.by_kind(docs, "Deployment").items()
        for target, var in d.calls(k.service_of(name)).items()
    ]


def test_kubernetes_points_each_call_at_the_service_that_runs_it(base):
    found = callers(base)
    assert {(name, target) for name, _, target, _ in found} >= {
        ("conversations-consumers", "connectors"),
        ("conversations", "connectors"),
        ("connectors", "workspaces"),
    }
    for name, dep, target, var in found:
        value = container_env(dep, base).get(var)
        assert value, f"{name} has no {var}: it would call 127.0.0.1 inside its pod"
        url = urlsplit(value)
        assert url.scheme == "http" and url.hostname and url.port, (name, value)
        pods = served_by(base, url.hostname, url.port)
        assert pods and {k.service_of(p["metadata"]["name"]) for p in pods} == {target}, (
            name,
            value,
        )


def test_kubernetes_gives_every_reader_of_public_base_url_a_public_address(base):
    for name, dep in k.by_kind(base, "Deployment").items():
        if "PUBLIC_BASE_URL" in d.env_names(k.service_of(name)):
            url = urlsplit(container_env(dep, base).get("PUBLIC_BASE_URL", ""))
            assert url.scheme == "https" and url.hostname not in (None, "127.0.0.1"), name


def test_kubernetes_gives_each_pod_its_token_keys_from_one_secret_and_no_others(base):
    deployments = k.by_kind(base, "Deployment")
    gateway = container_env(deployments["gateway"], base)
    assert gateway.get("SECRET_KEY", "").startswith("secret:")
    for name, dep in deployments.items():
        service = k.service_of(name)
        env = container_env(dep, base)
        held = {n for n in env if n.endswith("TOKEN_KEY") or n == "SECRET_KEY"}
        expected = set(d.token_keys(service)) | ({"SECRET_KEY"} if service == "gateway" else set())
        assert held == expected, f"{name} holds {sorted(held)}"
        for var, audience in d.token_keys(service).items():
            assert env[var].startswith("secret:"), (name, var)
            assert env[var] == gateway[f"{audience.upper()}_TOKEN_KEY"], (name, var, env[var])


def _port_allowed(rule_ports: list[dict] | None, ports: dict[str, int]) -> bool:
    if not rule_ports:
        return True
    return any(p.get("port") in ports or p.get("port") in ports.values() for p in rule_ports)


def _peer_allows(peers: list[dict] | None, labels: dict[str, str]) -> bool:
    if not peers:  # no `from`/`to`: every peer
        return True
    for peer in peers:
        if "ipBlock" in peer:
            continue
        if peer.get("namespaceSelector"):
            continue  # another namespace's pods; ours are in the same one
        if k.selects(peer.get("podSelector", {}), labels):
            return True
    return False


def allowed(docs: list[dict], caller: dict, target: dict, port: dict[str, int]) -> list[str]:
    """What stops `caller`'s pods from reaching `target`'s on `port` (empty: nothing)."""
    problems = []
    policies = k.by_kind(docs, "NetworkPolicy").values()
    to_labels, from_labels = pod_labels(target), pod_labels(caller)
    ingress = [
        p
        for p in policies
        if "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and k.selects(p["spec"]["podSelector"], to_labels)
    ]
    if ingress and not any(
        _peer_allows(rule.get("from"), from_labels) and _port_allowed(rule.get("ports"), port)
        for p in ingress
        for rule in p["spec"].get("ingress", [])
    ):
        problems.append("no ingress rule of " + ", ".join(p["metadata"]["name"] for p in ingress))
    egress = [
        p
        for p in policies
        if "Egress" in p["spec"].get("policyTypes", [])
        and k.selects(p["spec"]["podSelector"], from_labels)
    ]
    rules = [rule for p in egress for rule in p["spec"].get("egress", [])]
    if egress and not any(
        _peer_allows(rule.get("to"), to_labels) and _port_allowed(rule.get("ports"), port)
        for rule in rules
    ):
        problems.append("no egress rule of " + ", ".join(p["metadata"]["name"] for p in egress))
    # The address is a Service name: with egress limited, DNS must be allowed too.
    if egress and not any(
        any(p.get("port") == 53 for p in rule.get("ports") or [{"port": 53}]) for rule in rules
    ):
        problems.append("egress limited without DNS")
    return problems


def test_network_policies_let_every_call_through(base):
    for name, dep, _target, var in callers(base):
        url = urlsplit(container_env(dep, base)[var])
        for pod in served_by(base, url.hostname, url.port):
            ports = container_ports(pod)
            service = k.by_kind(base, "Service")[url.hostname]
            (entry,) = [p for p in service["spec"]["ports"] if p["port"] == url.port]
            target_port = entry.get("targetPort", url.port)
            port = {n: v for n, v in ports.items() if target_port in (n, v)}
            problems = allowed(base, dep, pod, port)
            assert not problems, f"{name} -> {pod['metadata']['name']} ({var}): {problems}"


def test_the_policy_check_sees_a_blocked_call(base):
    """The check above fails when a policy leaves a caller out."""
    docs = [dict(doc) for doc in base if doc["kind"] != "NetworkPolicy"]
    only_gateway = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "only-gateway"},
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "connectors"}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}}]}
            ],
        },
    }
    deployments = k.by_kind(base, "Deployment")
    caller, target = deployments["conversations-consumers"], deployments["connectors"]
    port = container_ports(target)
    assert allowed([*docs, only_gateway], caller, target, port) == [
        "no ingress rule of only-gateway"
    ]
    assert allowed([*docs, only_gateway], deployments["gateway"], target, port) == []
    egress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "egress-nowhere"},
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/component": "consumers"}},
            "policyTypes": ["Egress"],
            "egress": [{"ports": [{"port": 443, "protocol": "TCP"}]}],
        },
    }
    assert allowed([*docs, egress], caller, target, port) == [
        "no egress rule of egress-nowhere",
        "egress limited without DNS",
    ]
