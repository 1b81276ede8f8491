"""deploy/k8s: the kustomize base and the production overlay, rendered and checked offline."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import deploy_support as d
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

K8S = d.DEPLOY / "k8s"
BASE = K8S / "base"
PRODUCTION = K8S / "overlays" / "production"
K8S_SCHEMAS = d.SCHEMAS / "kubernetes-v1.32"
SCHEMA_FILES = {
    ("v1", "Namespace"): "namespace-v1.json",
    ("v1", "ConfigMap"): "configmap-v1.json",
    ("v1", "Secret"): "secret-v1.json",
    ("v1", "Service"): "service-v1.json",
    ("apps/v1", "Deployment"): "deployment-apps-v1.json",
    ("batch/v1", "Job"): "job-batch-v1.json",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "horizontalpodautoscaler-autoscaling-v2.json",
    ("networking.k8s.io/v1", "NetworkPolicy"): "networkpolicy-networking-v1.json",
    ("policy/v1", "PodDisruptionBudget"): "poddisruptionbudget-policy-v1.json",
}


# --- rendering ------------------------------------------------------------------------------


def kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        probe = subprocess.run(["kubectl", "kustomize", "--help"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["kubectl", "kustomize"]
    return None


def render_with_kustomize(directory: Path) -> list[dict]:
    command = kustomize_command()
    if command is None:
        pytest.skip("neither kustomize nor kubectl is installed")
    result = subprocess.run([*command, str(directory)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def kustomization(directory: Path) -> dict:
    return yaml.safe_load((directory / "kustomization.yaml").read_text())


def load_files(directory: Path) -> list[dict]:
    """The resources a kustomization lists, without kustomize: files and nested bases,
    with the namespace applied (patches are checked separately)."""
    config = kustomization(directory)
    docs: list[dict] = []
    for entry in config.get("resources", []):
        path = (directory / entry).resolve()
        assert path.exists(), f"{directory}: resource {entry} does not exist"
        if path.is_dir():
            docs.extend(load_files(path))
        else:
            docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    for doc in docs:
        if config.get("namespace") and doc["kind"] != "Namespace":
            doc["metadata"]["namespace"] = config["namespace"]
    return docs


RENDERERS = {"kustomize": render_with_kustomize, "files": load_files}


@pytest.fixture(params=sorted(RENDERERS), scope="module")
def base(request) -> list[dict]:
    return RENDERERS[request.param](BASE)


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def find(docs: list[dict], kind: str, name: str) -> dict:
    found = by_kind(docs, kind)
    assert name in found, f"no {kind} {name}"
    return found[name]


# --- schema ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry() -> Registry:
    definitions = json.loads((K8S_SCHEMAS / "_definitions.json").read_text())
    return Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))


def schema_errors(doc: dict, registry: Registry) -> list[str]:
    name = SCHEMA_FILES.get((doc.get("apiVersion"), doc.get("kind")))
    if name is None:
        return [f"no vendored schema for {doc.get('apiVersion')} {doc.get('kind')}"]
    schema = json.loads((K8S_SCHEMAS / name).read_text())
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def test_every_manifest_matches_the_kubernetes_schema(base, registry):
    for doc in base:
        errors = schema_errors(doc, registry)
        assert not errors, f"{doc['kind']} {doc['metadata'].get('name')}: {errors}"


def test_production_overlay_matches_the_kubernetes_schema(registry):
    for doc in render_with_kustomize(PRODUCTION):
        errors = schema_errors(doc, registry)
        assert not errors, f"{doc['kind']} {doc['metadata'].get('name')}: {errors}"


def test_schema_check_catches_a_misspelt_probe(base, registry):
    deployment = json.loads(json.dumps(find(base, "Deployment", "gateway")))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    assert schema_errors(deployment, registry)


# --- structure ------------------------------------------------------------------------------


def test_every_manifest_is_named_and_namespaced(base):
    for doc in base:
        assert doc.get("apiVersion") and doc.get("kind"), doc
        assert doc["metadata"].get("name"), doc
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "base-platform", doc["metadata"]
    assert set(by_kind(base, "Namespace")) == {"base-platform"}
    keys = [(doc["kind"], doc["metadata"]["name"]) for doc in base]
    assert len(keys) == len(set(keys)), "duplicate resources"


def containers(deployment: dict) -> list[dict]:
    return deployment["spec"]["template"]["spec"]["containers"]


def test_a_deployment_and_a_service_per_service(base):
    assert set(by_kind(base, "Deployment")) == set(d.APP_SERVICES)
    services = by_kind(base, "Service")
    for name, deployment in by_kind(base, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items(), f"{name}: selector does not match its pods"
        service = services[name]
        assert service["spec"]["selector"].items() <= labels.items(), f"{name}: service selector"
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", "only ClusterIP services"
        (port,) = service["spec"]["ports"]
        assert port["port"] == d.DEFAULT_PORTS[name]
        declared = {p.get("name") for p in containers(deployment)[0]["ports"]} | {
            p["containerPort"] for p in containers(deployment)[0]["ports"]
        }
        assert port["targetPort"] in declared, f"{name}: targetPort {port['targetPort']}"


def probe_port_ok(probe: dict, container: dict) -> bool:
    port = probe["httpGet"]["port"]
    return any(port in (p.get("name"), p["containerPort"]) for p in container["ports"])


def test_deployments_probe_ready_and_health(base):
    for name, deployment in by_kind(base, "Deployment").items():
        for container in containers(deployment):
            ready, live = container.get("readinessProbe"), container.get("livenessProbe")
            assert ready and ready["httpGet"]["path"] == "/ready", f"{name}: readiness"
            assert live and live["httpGet"]["path"] == "/health", f"{name}: liveness"
            assert probe_port_ok(ready, container) and probe_port_ok(live, container), name
            assert container["ports"][0]["containerPort"] == d.DEFAULT_PORTS[name]


QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G)?$")
FACTORS = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def quantity(value: Any) -> float:
    match = QUANTITY.match(str(value))
    assert match, f"bad quantity {value!r}"
    return float(match.group(1)) * FACTORS[match.group(2)]


def check_resources(owner: str, container: dict) -> None:
    resources = container.get("resources", {})
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            assert resource in resources.get(kind, {}), f"{owner}: no {kind}.{resource}"
    for resource in ("cpu", "memory"):
        request = quantity(resources["requests"][resource])
        limit = quantity(resources["limits"][resource])
        assert request <= limit, f"{owner}: {resource} request above limit"


def check_security(owner: str, pod: dict) -> None:
    context = pod.get("securityContext", {})
    assert context.get("runAsNonRoot") is True, f"{owner}: runAsNonRoot"
    assert context.get("runAsUser", 0) != 0, f"{owner}: runs as root"
    for container in pod["containers"]:
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, owner
        assert "ALL" in container["securityContext"]["capabilities"]["drop"], owner


def test_deployments_have_limits_security_and_a_grace_period(base):
    for name, deployment in by_kind(base, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        check_security(name, pod)
        # The services drain for up to 20 s after SIGTERM; Kubernetes must wait longer.
        # preStop 5 s + request drain 20 s + relay batch 5 s + consumer drain 15 s
        assert pod.get("terminationGracePeriodSeconds", 0) >= 45, name
        for container in pod["containers"]:
            check_resources(name, container)


def test_quantities_are_compared_by_value():
    assert quantity("500m") < quantity("1") < quantity("1.5")
    assert quantity("512Mi") < quantity("1Gi")
    check = {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    with pytest.raises(AssertionError):
        check_resources("x", {"resources": check})


def test_deployments_run_their_own_module(base):
    for name, deployment in by_kind(base, "Deployment").items():
        (container,) = containers(deployment)
        argv = container.get("command", [])
        assert argv == ["python", "-m", name], f"{name}: {argv}"
        assert d.check_command(argv) is None
        assert container["image"].split(":")[0].endswith(f"base-platform/{name}")


def env_sources(pod: dict, docs: list[dict]) -> tuple[set[str], set[str], set[str]]:
    """Names a pod gets from its ConfigMaps, from its Secrets, and the refs that are missing."""
    configmaps, secrets = by_kind(docs, "ConfigMap"), by_kind(docs, "Secret")
    from_config: set[str] = set()
    from_secret: set[str] = set()
    missing: set[str] = set()
    for container in pod["containers"]:
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                ref = source["configMapRef"]["name"]
                if ref in configmaps:
                    from_config.update(configmaps[ref].get("data", {}))
                else:
                    missing.add(ref)
            if "secretRef" in source:
                ref = source["secretRef"]["name"]
                if ref in secrets:
                    secret = secrets[ref]
                    from_secret.update(secret.get("stringData", {}), secret.get("data", {}))
                else:
                    missing.add(ref)
        from_config.update(e["name"] for e in container.get("env", []))
    return from_config, from_secret, missing


def test_settings_come_from_configmaps_and_secrets_the_service_reads(base):
    for name, deployment in by_kind(base, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        from_config, from_secret, missing = env_sources(pod, base)
        assert not missing, f"{name}: envFrom refers to missing {missing}"
        names = from_config | from_secret
        unknown = sorted(names - d.env_names(name))
        assert not unknown, f"{name} gets names its code never reads: {unknown}"
        absent = sorted(d.required_names(name) - names)
        assert not absent, f"{name} lacks {absent}"


def test_credentials_live_only_in_secrets(base):
    for name, configmap in by_kind(base, "ConfigMap").items():
        leaked = sorted(k for k in configmap.get("data", {}) if d.SECRET_NAME.search(k))
        assert not leaked, f"ConfigMap {name} holds credentials: {leaked}"
    secret_names = set().union(*(s.get("stringData", {}) for s in by_kind(base, "Secret").values()))
    assert {"SECRET_KEY", "DATABASE_URL", "RABBITMQ_URL", "META_APP_SECRET"} <= secret_names
    assert {"TWILIO_AUTH_TOKEN", "CONNECTOR_ENCRYPTION_KEYS"} <= secret_names


def test_configmap_urls_point_at_cluster_services(base):
    gateway = find(base, "ConfigMap", "gateway-config")["data"]
    for target in ("workspaces", "connectors", "conversations"):
        assert gateway[f"{target.upper()}_URL"] == f"http://{target}:{d.DEFAULT_PORTS[target]}"


def test_autoscalers_target_existing_deployments(base):
    hpas = by_kind(base, "HorizontalPodAutoscaler")
    assert set(hpas) == {"gateway", "conversations"}
    deployments = by_kind(base, "Deployment")
    for name, hpa in hpas.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        ref = hpa["spec"]["scaleTargetRef"]
        assert (ref["apiVersion"], ref["kind"]) == ("apps/v1", "Deployment")
        assert ref["name"] in deployments, f"HPA {name} targets missing {ref['name']}"
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert hpa["spec"]["metrics"], name
        # A fixed replica count would be reset by every apply, fighting the autoscaler.
        assert "replicas" not in deployments[ref["name"]]["spec"], ref["name"]


def test_migration_job_runs_migrate_py_with_the_database_url(base):
    (job,) = by_kind(base, "Job").values()
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["python", "deploy/migrate.py"]
    assert d.check_command(container["command"]) is None
    assert container["image"].split(":")[0].endswith("base-platform/migrate")
    assert pod["restartPolicy"] in {"Never", "OnFailure"}
    check_security("migrate", pod)
    check_resources("migrate", container)
    from_config, from_secret, missing = env_sources(pod, base)
    assert not missing
    assert "DATABASE_URL" in from_secret
    assert (from_config | from_secret) <= d.env_names("workspaces"), "shared settings only"


# --- the production overlay -----------------------------------------------------------------


def patch_targets(directory: Path) -> list[tuple[str, str]]:
    """(kind, name) of every resource a kustomization patches."""
    targets = []
    config = kustomization(directory)
    for patch in config.get("patches", []) + config.get("patchesStrategicMerge", []):
        if isinstance(patch, str):
            patch = {"path": patch}
        if "target" in patch:
            targets.append((patch["target"]["kind"], patch["target"]["name"]))
        if "path" in patch:
            path = directory / patch["path"]
            assert path.is_file(), f"patch file {patch['path']} is missing"
            for doc in yaml.safe_load_all(path.read_text()):
                if doc and "kind" in doc:
                    targets.append((doc["kind"], doc["metadata"]["name"]))
    return targets


def test_overlay_patches_target_existing_resources():
    base = load_files(BASE)
    existing = {(doc["kind"], doc["metadata"]["name"]) for doc in base}
    targets = patch_targets(PRODUCTION)
    assert targets, "the overlay patches nothing"
    missing = [t for t in targets if t not in existing]
    assert not missing, f"patches target missing resources: {missing}"


def test_overlay_images_and_replicas_refer_to_the_base():
    config = kustomization(PRODUCTION)
    base = load_files(BASE)
    images = {
        c["image"].split(":")[0]
        for doc in base
        if doc["kind"] in {"Deployment", "Job"}
        for c in doc["spec"]["template"]["spec"]["containers"]
    }
    overridden = {image["name"] for image in config["images"]}
    assert overridden == images, "every image gets a pinned tag in production"
    for image in config["images"]:
        assert image.get("newTag") not in (None, "", "latest"), image
    deployments = by_kind(base, "Deployment")
    autoscaled = {
        h["spec"]["scaleTargetRef"]["name"]
        for h in by_kind(base, "HorizontalPodAutoscaler").values()
    }
    for entry in config.get("replicas", []):
        assert entry["name"] in deployments, entry
        assert entry["name"] not in autoscaled, f"{entry['name']} is scaled by its HPA"


def test_production_renders_bigger_and_pinned():
    base = {doc["metadata"]["name"]: doc for doc in load_files(BASE) if doc["kind"] == "Deployment"}
    rendered = render_with_kustomize(PRODUCTION)
    for name, deployment in by_kind(rendered, "Deployment").items():
        (container,) = containers(deployment)
        assert not container["image"].endswith(":latest"), container["image"]
        (before,) = containers(base[name])
        for resource in ("cpu", "memory"):
            bigger = quantity(container["resources"]["limits"][resource])
            assert bigger > quantity(before["resources"]["limits"][resource]), (name, resource)
    for name, hpa in by_kind(rendered, "HorizontalPodAutoscaler").items():
        assert hpa["spec"]["minReplicas"] >= 2, name
    for name in ("workspaces", "connectors"):
        assert find(rendered, "Deployment", name)["spec"]["replicas"] >= 2


def selects(selector: dict, labels: dict) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        value = labels.get(expr["key"])
        if expr["operator"] == "In" and value not in expr["values"]:
            return False
        if expr["operator"] == "NotIn" and value in expr["values"]:
            return False
    return True


def test_internal_services_take_traffic_from_the_gateway_only(base):
    deployments = by_kind(base, "Deployment")
    pod_labels = {n: d_["spec"]["template"]["metadata"]["labels"] for n, d_ in deployments.items()}
    policies = by_kind(base, "NetworkPolicy").values()
    for name, labels in pod_labels.items():
        covering = [p for p in policies if selects(p["spec"]["podSelector"], labels)]
        if name == "gateway":
            assert not covering, "the gateway is the public entry"
            continue
        assert covering, f"{name} accepts traffic from anywhere"
        for policy in covering:
            for rule in policy["spec"]["ingress"]:
                for peer in rule["from"]:
                    peer_labels = peer["podSelector"].get("matchLabels", {})
                    # Same-namespace peers can only be the gateway; others are scrapers.
                    if "namespaceSelector" not in peer:
                        assert selects(peer["podSelector"], pod_labels["gateway"]), peer
                    else:
                        assert peer_labels, f"{name}: a whole namespace may call it"


def test_disruption_budgets_cover_every_deployment(base):
    budgets = by_kind(base, "PodDisruptionBudget").values()
    for name, deployment in by_kind(base, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert [b for b in budgets if selects(b["spec"]["selector"], labels)], name
