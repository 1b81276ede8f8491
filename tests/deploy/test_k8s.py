"""deploy/k8s: the kustomize base and the production overlay, rendered and checked offline."""

from __future__ import annotations

import importlib
import ipaddress
import json
import logging
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import deploy_support as d
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from conversations.events import subscribers
from shared.bus import Bus
from shared.events import InboundMessageAcceptedV1, routing_key
from shared.settings import ServiceSettings

K8S = d.DEPLOY / "k8s"
BASE = K8S / "base"
PRODUCTION = K8S / "overlays" / "production"
K8S_SCHEMAS = d.SCHEMAS / "kubernetes-v1.32"
KEDA_SCHEMAS = d.SCHEMAS / "keda"
SCHEMA_FILES = {
    ("v1", "Namespace"): K8S_SCHEMAS / "namespace-v1.json",
    ("v1", "ConfigMap"): K8S_SCHEMAS / "configmap-v1.json",
    ("v1", "Secret"): K8S_SCHEMAS / "secret-v1.json",
    ("v1", "Service"): K8S_SCHEMAS / "service-v1.json",
    ("apps/v1", "Deployment"): K8S_SCHEMAS / "deployment-apps-v1.json",
    ("batch/v1", "Job"): K8S_SCHEMAS / "job-batch-v1.json",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): (
        K8S_SCHEMAS / "horizontalpodautoscaler-autoscaling-v2.json"
    ),
    ("networking.k8s.io/v1", "NetworkPolicy"): K8S_SCHEMAS / "networkpolicy-networking-v1.json",
    ("policy/v1", "PodDisruptionBudget"): K8S_SCHEMAS / "poddisruptionbudget-policy-v1.json",
    ("keda.sh/v1alpha1", "ScaledObject"): KEDA_SCHEMAS / "scaledobject-keda-v1alpha1.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): (
        KEDA_SCHEMAS / "triggerauthentication-keda-v1alpha1.json"
    ),
}
# Deployments that run a service's image without serving its HTTP API: name -> service.
CONSUMER_DEPLOYMENTS = {"conversations-consumers": "conversations"}


def service_of(deployment: str) -> str:
    """The service whose image and settings a Deployment runs."""
    return CONSUMER_DEPLOYMENTS.get(deployment, deployment)


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
    path = SCHEMA_FILES.get((doc.get("apiVersion"), doc.get("kind")))
    if path is None:
        return [f"no vendored schema for {doc.get('apiVersion')} {doc.get('kind')}"]
    schema = json.loads(path.read_text())
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


def test_keda_schemas_catch_a_misspelt_key_a_number_and_a_missing_field(base, registry):
    (scaled,) = by_kind(base, "ScaledObject").values()
    assert not schema_errors(scaled, registry)
    misspelt = json.loads(json.dumps(scaled))
    metadata = misspelt["spec"]["triggers"][0]["metadata"]
    metadata["queuename"] = metadata.pop("queueName")
    assert schema_errors(misspelt, registry)
    numeric = json.loads(json.dumps(scaled))
    numeric["spec"]["triggers"][0]["metadata"]["value"] = 100  # KEDA wants strings
    assert schema_errors(numeric, registry)
    (auth,) = by_kind(base, "TriggerAuthentication").values()
    assert not schema_errors(auth, registry)
    keyless = json.loads(json.dumps(auth))
    del keyless["spec"]["secretTargetRef"][0]["key"]
    assert schema_errors(keyless, registry)


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
    deployments = by_kind(base, "Deployment")
    assert set(deployments) == set(d.APP_SERVICES) | set(CONSUMER_DEPLOYMENTS)
    services = by_kind(base, "Service")
    for name in d.APP_SERVICES:
        deployment = deployments[name]
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


def test_consumer_deployments_are_behind_no_service(base):
    deployments = by_kind(base, "Deployment")
    for name in CONSUMER_DEPLOYMENTS:
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert name not in by_kind(base, "Service"), name
        for service in by_kind(base, "Service").values():
            # A Service selecting them would send API requests to pods meant for queues.
            assert not service["spec"]["selector"].items() <= labels.items(), service
        for other, deployment in deployments.items():
            if other != name:
                selector = deployment["spec"]["selector"]
                assert not selects(selector, labels), f"{other}'s selector takes {name}'s pods"


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
            assert container["ports"][0]["containerPort"] == d.DEFAULT_PORTS[service_of(name)]


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
        service = service_of(name)
        (container,) = containers(deployment)
        argv = container.get("command", [])
        assert argv == ["python", "-m", service], f"{name}: {argv}"
        assert d.check_command(argv) is None
        assert container["image"].split(":")[0].endswith(f"base-platform/{service}")


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
        unknown = sorted(names - d.env_names(service_of(name)))
        assert not unknown, f"{name} gets names its code never reads: {unknown}"
        absent = sorted(d.required_names(service_of(name)) - names)
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


# --- queue-depth scaling (KEDA) -------------------------------------------------------------


def scaled_targets(docs: list[dict]) -> dict[str, str]:
    """ScaledObject name -> the Deployment it scales."""
    targets = {}
    for name, scaled in by_kind(docs, "ScaledObject").items():
        ref = scaled["spec"]["scaleTargetRef"]
        # KEDA's defaults when apiVersion and kind are left out.
        assert (ref.get("apiVersion", "apps/v1"), ref.get("kind", "Deployment")) == (
            "apps/v1",
            "Deployment",
        ), name
        targets[name] = ref["name"]
    return targets


def rabbitmq_triggers(scaled: dict) -> list[dict]:
    return [t for t in scaled["spec"]["triggers"] if t["type"] == "rabbitmq"]


def test_scaled_objects_target_existing_deployments(base):
    deployments = by_kind(base, "Deployment")
    targets = scaled_targets(base)
    assert set(targets.values()) == set(CONSUMER_DEPLOYMENTS)
    for name, target in targets.items():
        assert target in deployments, f"ScaledObject {name} targets missing {target}"
        assert "replicas" not in deployments[target]["spec"], target
        spec = by_kind(base, "ScaledObject")[name]["spec"]
        # Never to zero: the projections and the delivery sweep run in these pods.
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"], name
        assert spec["triggers"], name


def test_no_deployment_is_scaled_by_both_an_hpa_and_keda(base):
    # KEDA makes its own HPA for a ScaledObject: two HPAs on one Deployment fight.
    for docs in (base, render_with_kustomize(PRODUCTION)):
        hpa_targets = [
            h["spec"]["scaleTargetRef"]["name"]
            for h in by_kind(docs, "HorizontalPodAutoscaler").values()
        ]
        keda_targets = list(scaled_targets(docs).values())
        assert len(hpa_targets) == len(set(hpa_targets)), hpa_targets
        assert len(keda_targets) == len(set(keda_targets)), keda_targets
        assert not set(hpa_targets) & set(keda_targets)
        keda_hpas = {f"keda-hpa-{name}" for name in by_kind(docs, "ScaledObject")}
        assert not keda_hpas & set(by_kind(docs, "HorizontalPodAutoscaler")), "name clash"


def pod_env(deployment: dict, docs: list[dict]) -> dict[str, str]:
    """What the container's environment holds from its ConfigMaps and `env` (which wins).
    Secrets are left out: their placeholders are not valid settings."""
    configmaps = by_kind(docs, "ConfigMap")
    (container,) = containers(deployment)
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(configmaps[source["configMapRef"]["name"]].get("data", {}))
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return env


def subscribed_queues(service: str, env: dict[str, str], monkeypatch) -> dict[str, str]:
    """Routing key -> queue of every subscriber the service's app registers when started
    with this environment (built in this process; nothing connects)."""
    for name in d.env_names(service):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = d.settings_class(service)(_env_file=None)
    main = importlib.import_module(f"{service}.main")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # create_app configures logging
    try:
        app = main.create_app(settings)
    finally:
        root.handlers[:], root.level = handlers, level
    return {queue.routing_key: queue.name for queue in app.state.runtime.bus.consumed_queues()}


def test_the_http_pods_consume_nothing_and_the_consumer_pods_everything(base, monkeypatch):
    deployments = by_kind(base, "Deployment")
    for worker, service in CONSUMER_DEPLOYMENTS.items():
        every = subscribed_queues(service, {}, monkeypatch)  # the code's defaults: all on
        assert every, service
        http = subscribed_queues(service, pod_env(deployments[service], base), monkeypatch)
        assert http == {}, f"{service} (HTTP) consumes {sorted(http.values())}"
        consumers = subscribed_queues(service, pod_env(deployments[worker], base), monkeypatch)
        assert consumers == every, f"{worker} leaves out {set(every) - set(consumers)}"


def test_rabbitmq_triggers_watch_the_queues_their_deployment_consumes(base, monkeypatch):
    deployments = by_kind(base, "Deployment")
    scaled_objects = by_kind(base, "ScaledObject")
    for name, target in scaled_targets(base).items():
        env = pod_env(deployments[target], base)
        consumed = set(subscribed_queues(service_of(target), env, monkeypatch).values())
        triggers = rabbitmq_triggers(scaled_objects[name])
        assert triggers, name
        for trigger in triggers:
            metadata = trigger["metadata"]
            assert metadata["queueName"] in consumed, f"{name}: nobody consumes {metadata}"
            assert metadata["mode"] == "QueueLength", name
            assert metadata.get("protocol") == "amqp", "the URL in the Secret is an AMQP one"
            assert float(metadata["value"]) > 0, name
            assert not metadata["queueName"].endswith(".dlq"), "dead letters wait for a person"
    # The inbound queue by the name the code builds: prefix (from the ConfigMap) + consumer +
    # routing key.
    prefix = find(base, "ConfigMap", "base-platform-config")["data"].get("QUEUE_PREFIX", "")
    bus = Bus(ServiceSettings(queue_prefix=prefix, _env_file=None), "conversations")
    inbound = bus.queue_name(subscribers.CONSUMER, routing_key(InboundMessageAcceptedV1))
    watched = {
        trigger["metadata"]["queueName"]
        for name, target in scaled_targets(base).items()
        if target == "conversations-consumers"
        for trigger in rabbitmq_triggers(scaled_objects[name])
    }
    assert inbound in watched, f"{inbound} is not among {sorted(watched)}"


def test_trigger_authentication_reads_the_broker_url_the_pods_use(base):
    auths = by_kind(base, "TriggerAuthentication")
    secrets = by_kind(base, "Secret")
    deployments = by_kind(base, "Deployment")
    for name, target in scaled_targets(base).items():
        for trigger in by_kind(base, "ScaledObject")[name]["spec"]["triggers"]:
            ref = trigger["authenticationRef"]
            assert ref.get("kind", "TriggerAuthentication") == "TriggerAuthentication"
            assert ref["name"] in auths, f"{name}: no TriggerAuthentication {ref['name']}"
            (host,) = [
                p for p in auths[ref["name"]]["spec"]["secretTargetRef"] if p["parameter"] == "host"
            ]
            assert host["name"] in secrets, f"no Secret {host['name']}"
            secret = secrets[host["name"]]
            keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
            assert host["key"] in keys, f"Secret {host['name']} has no key {host['key']}"
            # The same URL the scaled pods consume with, from the same Secret.
            assert host["key"] == "RABBITMQ_URL"
            pod = deployments[target]["spec"]["template"]["spec"]
            assert host["name"] in {
                s["secretRef"]["name"]
                for c in pod["containers"]
                for s in c.get("envFrom", [])
                if "secretRef" in s
            }, f"{target} does not read {host['name']}"
            url = secret.get("stringData", {}).get(host["key"], "")
            assert url.startswith("amqp://"), "protocol amqp needs an amqp:// URL"


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
    } | set(scaled_targets(base).values())
    for entry in config.get("replicas", []):
        assert entry["name"] in deployments, entry
        assert entry["name"] not in autoscaled, f"{entry['name']} has an autoscaler"


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
    for name, scaled in by_kind(rendered, "ScaledObject").items():
        spec = scaled["spec"]
        assert 2 <= spec["minReplicaCount"] <= spec["maxReplicaCount"], name
        # The overlay's bounds patch must not have replaced the base's triggers.
        assert spec["triggers"] == find(load_files(BASE), "ScaledObject", name)["spec"]["triggers"]
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


def test_internal_services_take_traffic_from_the_gateway_and_their_callers_only(base):
    deployments = by_kind(base, "Deployment")
    pod_labels = {n: d_["spec"]["template"]["metadata"]["labels"] for n, d_ in deployments.items()}
    policies = by_kind(base, "NetworkPolicy").values()
    for name, labels in pod_labels.items():
        covering = [
            p
            for p in policies
            if "Ingress" in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], labels)
        ]
        if name == "gateway":
            assert not covering, "the gateway is the public entry"
            continue
        assert covering, f"{name} accepts traffic from anywhere"
        # The gateway, and the pods of services whose Settings call this one.
        may_call = {"gateway"} | {
            other for other in pod_labels if service_of(name) in d.calls(service_of(other))
        }
        for policy in covering:
            for rule in policy["spec"].get("ingress", []):
                for peer in rule["from"]:
                    peer_labels = peer["podSelector"].get("matchLabels", {})
                    # Same-namespace peers are callers; other namespaces' only scrapers.
                    if "namespaceSelector" not in peer:
                        allowed = {
                            n for n, lbl in pod_labels.items() if selects(peer["podSelector"], lbl)
                        }
                        assert allowed and allowed <= may_call, (name, peer, allowed - may_call)
                    else:
                        assert peer_labels, f"{name}: a whole namespace may call it"


def test_consumer_pods_take_no_traffic_but_scraping(base):
    deployments = by_kind(base, "Deployment")
    for name in CONSUMER_DEPLOYMENTS:
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        covering = [
            p
            for p in by_kind(base, "NetworkPolicy").values()
            if selects(p["spec"]["podSelector"], labels)
        ]
        assert covering, f"{name} accepts traffic from anywhere"
        for policy in covering:
            for rule in policy["spec"].get("ingress", []):
                for peer in rule["from"]:
                    # Not even the gateway: nothing in the namespace has a reason to call them.
                    assert "namespaceSelector" in peer, f"{name}: {peer}"
                    assert peer["podSelector"]["matchLabels"] == {
                        "app.kubernetes.io/name": "prometheus"
                    }, peer


# Addresses a pod that calls owners' URLs must never reach (besides its declared peers).
FORBIDDEN_EGRESS = [
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "127.0.0.0/8",
        "fc00::/7",
        "fe80::/10",
    )
]
SENDING_PODS = ("conversations", "conversations-consumers")


def egress_rules(base: list[dict], labels: dict) -> list[dict] | None:
    """The egress rules that apply to pods with these labels; None: egress is not limited."""
    covering = [
        p
        for p in by_kind(base, "NetworkPolicy").values()
        if "Egress" in p["spec"].get("policyTypes", [])
        and selects(p["spec"]["podSelector"], labels)
    ]
    if not covering:
        return None
    return [rule for p in covering for rule in p["spec"].get("egress", [])]


def reachable_blocks(rules: list[dict]) -> list[tuple[ipaddress._BaseNetwork, list]]:
    return [
        (ipaddress.ip_network(peer["ipBlock"]["cidr"]), peer["ipBlock"].get("except", []))
        for rule in rules
        for peer in rule.get("to", [{}])
        if "ipBlock" in peer
    ]


def reaches(rules: list[dict], address: str) -> bool:
    ip = ipaddress.ip_address(address)
    for rule in rules:
        if "to" not in rule:
            return True  # a rule without peers allows every destination
    for network, excepted in reachable_blocks(rules):
        if ip in network and not any(ip in ipaddress.ip_network(e) for e in excepted):
            return True
    return False


def test_pods_that_call_owners_urls_reach_no_private_address(base):
    deployments = by_kind(base, "Deployment")
    for name in SENDING_PODS:
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        rules = egress_rules(base, labels)
        assert rules is not None, f"{name}: egress is not limited"
        for rule in rules:
            assert rule.get("to"), f"{name}: an egress rule without peers allows everything"
            for peer in rule["to"]:
                if "podSelector" in peer:  # named peers only, never a whole namespace
                    assert peer["podSelector"].get("matchLabels"), f"{name}: {peer}"
        for network in FORBIDDEN_EGRESS:
            for address in (network[0], network[1], network[-1]):
                assert not reaches(rules, str(address)), f"{name} may reach {address}"
        for address in ("169.254.169.254", "127.0.0.1", "10.96.0.1", "::1", "fd00::1"):
            assert not reaches(rules, address), f"{name} may reach {address}"
        # ...and the providers and integrators on the internet, on any port.
        for address in ("157.240.1.1", "54.172.60.1", "2a03:2880:f10c::1"):
            assert reaches(rules, address), f"{name} cannot reach {address}"
        ports = [p for rule in rules for p in rule.get("ports", []) if "ipBlock" in str(rule)]
        assert not ports, f"{name}: the internet is limited to ports {ports}"


def test_pods_that_call_owners_urls_still_reach_dns_and_their_own_backends(base):
    secret = find(base, "Secret", "base-platform-secrets")["stringData"]
    config = {
        k: v
        for name in ("base-platform-config", "conversations-config")
        for k, v in find(base, "ConfigMap", name)["data"].items()
    }
    backends = {}
    for url in (
        secret["DATABASE_URL"],
        secret["RABBITMQ_URL"],
        *(config[k] for k in ("WORKSPACES_URL", "CONNECTORS_URL")),
    ):
        parts = urlsplit(url)
        backends[parts.hostname.split(".")[0]] = parts.port
    deployments = by_kind(base, "Deployment")
    for name in SENDING_PODS:
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        rules = egress_rules(base, labels)
        assert rules is not None
        allowed = {
            (peer["podSelector"]["matchLabels"].get("app.kubernetes.io/name"), port["port"])
            for rule in rules
            for peer in rule["to"]
            if "podSelector" in peer and "namespaceSelector" not in peer
            for port in rule.get("ports", [])
        }
        for service, port in backends.items():
            assert (service, port) in allowed, f"{name} cannot reach {service}:{port}"
        dns = [
            rule
            for rule in rules
            for peer in rule["to"]
            if peer.get("podSelector", {}).get("matchLabels", {}).get("k8s-app") == "kube-dns"
        ]
        assert dns and {(p["port"], p["protocol"]) for p in dns[0]["ports"]} == {
            (53, "UDP"),
            (53, "TCP"),
        }, f"{name} cannot resolve names"


def test_disruption_budgets_cover_every_deployment(base):
    budgets = by_kind(base, "PodDisruptionBudget").values()
    for name, deployment in by_kind(base, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert [b for b in budgets if selects(b["spec"]["selector"], labels)], name


def test_scraped_pods_read_the_metrics_token_from_a_secret(base):
    # /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` (404 when unset); the
    # scrape job sends it (deploy/README.md, "Metrics").
    for name, deployment in by_kind(base, "Deployment").items():
        template = deployment["spec"]["template"]
        if template["metadata"].get("annotations", {}).get("prometheus.io/scrape") != "true":
            continue
        _, from_secret, _ = env_sources(template["spec"], base)
        assert "METRICS_TOKEN" in from_secret, name
