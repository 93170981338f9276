"""Offline checks of deploy/: Kubernetes manifests, compose file and Dockerfile.

Every core manifest is validated against the Kubernetes JSON schemas shipped by
``kubernetes-validate`` (strict: unknown fields are errors). CRD objects (KEDA ScaledObject,
Prometheus Operator ServiceMonitor) and the Kustomization have no core schema, so their shape
is checked here field by field. On top of schema validity the tests pin the properties the
service relies on: workers scale on the queue-depth External metric (never CPU), PDBs, probes,
non-root read-only containers, grace periods, no real secrets.

No cluster, Docker or network is needed; nothing is skipped.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"

# Oldest Kubernetes the manifests target (preStop `sleep` needs 1.30); also checked against the
# newest schemas the installed kubernetes-validate ships.
K8S_MIN_VERSION = "1.30.0"
NAMESPACE = "countersign"
APP = "countersign"
PENDING_METRIC = "countersign_runs_pending_total"

REQUIRED_K8S_FILES = {
    "namespace.yaml",
    "configmap.yaml",
    "secret.example.yaml",
    "api-deployment.yaml",
    "worker-deployment.yaml",
    "hpa-api.yaml",
    "hpa-worker.yaml",
    "keda-scaledobject.yaml",
    "pdb.yaml",
    "migrate-job.yaml",
    "servicemonitor.yaml",
    "prometheus-adapter-rules.yaml",
    "networkpolicy.yaml",
    "kustomization.yaml",
}
# Files that exist on purpose but are not applied by `kubectl apply -k deploy/k8s`.
NOT_IN_KUSTOMIZATION = {
    "kustomization.yaml",
    "secret.example.yaml",  # placeholders only
    "keda-scaledobject.yaml",  # alternative to hpa-worker.yaml
    "prometheus-adapter-rules.yaml",  # prometheus-adapter's config, in its own namespace
}
# API groups without a core schema: their shape is checked by hand below.
CRD_GROUPS = {"keda.sh", "monitoring.coreos.com", "kustomize.config.k8s.io"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
CLUSTER_SCOPED_KINDS = {"Namespace", "Kustomization"}


def _kubernetes_validate() -> ModuleType:
    try:
        import kubernetes_validate
    except ImportError:
        pytest.fail(
            "tests/deploy needs the PyPI package kubernetes-validate>=1.30 "
            "(offline Kubernetes JSON schemas); install the dev dependencies"
        )
    return kubernetes_validate


def _load_documents() -> list[tuple[str, int, dict[str, Any]]]:
    docs: list[tuple[str, int, dict[str, Any]]] = []
    for path in sorted(K8S.glob("*.yaml")):
        with path.open(encoding="utf-8") as fh:
            for index, doc in enumerate(yaml.safe_load_all(fh)):
                if doc is not None:
                    docs.append((path.name, index, doc))
    return docs


DOCS = _load_documents()


def _group(doc: dict[str, Any]) -> str:
    api_version = str(doc.get("apiVersion", ""))
    return api_version.split("/")[0] if "/" in api_version else ""


def _doc_id(entry: tuple[str, int, dict[str, Any]]) -> str:
    name, index, doc = entry
    return f"{name}#{index}:{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


CORE_DOCS = [entry for entry in DOCS if _group(entry[2]) not in CRD_GROUPS]


def _objects(kind: str, component: str | None = None) -> list[dict[str, Any]]:
    found = []
    for _, _, doc in DOCS:
        if doc.get("kind") != kind:
            continue
        labels = doc.get("metadata", {}).get("labels", {})
        if component is None or labels.get("app.kubernetes.io/component") == component:
            found.append(doc)
    return found


def _one(kind: str, name: str) -> dict[str, Any]:
    matches = [doc for doc in _objects(kind) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected exactly one {kind}/{name}, found {len(matches)}"
    return matches[0]


def _workloads() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(object, pod spec) for every workload in the manifests."""
    for _, _, doc in DOCS:
        if doc.get("kind") in WORKLOAD_KINDS:
            yield doc, doc["spec"]["template"]["spec"]


def _containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    match_labels = selector.get("matchLabels", {})
    return bool(match_labels) and all(labels.get(k) == v for k, v in match_labels.items())


# --- files and parsing ----------------------------------------------------------------------


def test_every_expected_manifest_exists() -> None:
    present = {path.name for path in K8S.glob("*.yaml")}
    assert present >= REQUIRED_K8S_FILES, f"missing: {sorted(REQUIRED_K8S_FILES - present)}"
    assert not list(K8S.glob("*.yml")), "use the .yaml extension (the kustomization lists them)"


def test_every_document_has_kind_name_labels_and_namespace() -> None:
    assert len(DOCS) >= len(REQUIRED_K8S_FILES)
    for entry in DOCS:
        name, _, doc = entry
        where = _doc_id(entry)
        assert doc.get("apiVersion"), where
        assert doc.get("kind"), where
        if doc["kind"] == "Kustomization":
            continue
        metadata = doc.get("metadata", {})
        assert metadata.get("name"), where
        assert metadata.get("labels", {}).get("app.kubernetes.io/name") == APP, where
        if doc["kind"] in CLUSTER_SCOPED_KINDS:
            continue
        expected_ns = "monitoring" if name == "prometheus-adapter-rules.yaml" else NAMESPACE
        assert metadata.get("namespace") == expected_ns, where


def test_object_names_are_unique_per_kind() -> None:
    keys = Counter(
        (doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"])
        for _, _, doc in DOCS
        if doc["kind"] != "Kustomization"
    )
    duplicates = [key for key, count in keys.items() if count > 1]
    assert not duplicates


# --- schema validation ----------------------------------------------------------------------


@pytest.mark.parametrize("entry", CORE_DOCS, ids=_doc_id)
def test_core_manifest_validates_against_kubernetes_schema(
    entry: tuple[str, int, dict[str, Any]],
) -> None:
    kv = _kubernetes_validate()
    _, _, doc = entry
    for version in (K8S_MIN_VERSION, kv.latest_version()):
        try:
            kv.validate(doc, version, strict=True)
        except kv.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            pytest.fail(f"{_doc_id(entry)} invalid for Kubernetes {version}: {path}: {exc.message}")
        except kv.SchemaNotFoundError as exc:
            pytest.fail(
                f"{_doc_id(entry)}: no Kubernetes {version} schema ({exc.message}); if this is "
                "a CRD, add its API group to CRD_GROUPS and check its shape in this file"
            )


def test_core_schemas_reject_a_broken_manifest() -> None:
    """The validator is really strict: a typo'd field and a wrong type are both errors."""
    kv = _kubernetes_validate()
    deployment = json.loads(json.dumps(_one("Deployment", "countersign-api")))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kv.ValidationError):
        kv.validate(deployment, K8S_MIN_VERSION, strict=True)
    hpa = json.loads(json.dumps(_one("HorizontalPodAutoscaler", "countersign-worker")))
    hpa["spec"]["minReplicas"] = "two"
    with pytest.raises(kv.ValidationError):
        kv.validate(hpa, K8S_MIN_VERSION, strict=True)


def test_only_known_crds_are_used() -> None:
    crd_kinds = {(_group(doc), doc["kind"]) for _, _, doc in DOCS if _group(doc) in CRD_GROUPS}
    assert crd_kinds == {
        ("keda.sh", "ScaledObject"),
        ("monitoring.coreos.com", "ServiceMonitor"),
        ("kustomize.config.k8s.io", "Kustomization"),
    }


def test_servicemonitors_shape() -> None:
    monitors = _objects("ServiceMonitor")
    assert {m["metadata"]["labels"]["app.kubernetes.io/component"] for m in monitors} == {
        "api",
        "worker",
    }
    services = _objects("Service")
    for monitor in monitors:
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        spec = monitor["spec"]
        assert set(spec) <= {"selector", "namespaceSelector", "endpoints", "jobLabel"}
        assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        targets = [s for s in services if _matches(spec["selector"], s["metadata"]["labels"])]
        assert len(targets) == 1, f"{monitor['metadata']['name']} must select exactly 1 Service"
        port_names = {p["name"] for p in targets[0]["spec"]["ports"]}
        assert spec["endpoints"]
        for endpoint in spec["endpoints"]:
            assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "scheme"}
            assert endpoint["port"] in port_names
            assert endpoint["path"] == "/metrics"
            assert re.fullmatch(r"\d+s", endpoint["interval"])


def test_keda_scaledobject_shape() -> None:
    (scaled,) = _objects("ScaledObject")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["metadata"]["namespace"] == NAMESPACE
    spec = scaled["spec"]
    allowed = {
        "scaleTargetRef",
        "minReplicaCount",
        "maxReplicaCount",
        "pollingInterval",
        "cooldownPeriod",
        "advanced",
        "triggers",
    }
    assert set(spec) <= allowed, f"unknown ScaledObject fields: {set(spec) - allowed}"
    assert spec["scaleTargetRef"]["name"] == "countersign-worker"
    assert spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 20)
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "prometheus"
    assert trigger.get("metricType", "AverageValue") == "AverageValue"
    metadata = trigger["metadata"]
    assert set(metadata) >= {"serverAddress", "query", "threshold"}
    assert all(isinstance(v, str) for v in metadata.values()), "KEDA metadata values are strings"
    assert metadata["serverAddress"].startswith(("http://", "https://"))
    assert re.fullmatch(rf"max\({PENDING_METRIC}(\{{[^}}]*\}})?\)", metadata["query"])
    assert float(metadata["threshold"]) == 10
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert set(behavior) <= {"scaleUp", "scaleDown"}


def test_keda_file_says_it_replaces_the_hpa() -> None:
    text = (K8S / "keda-scaledobject.yaml").read_text(encoding="utf-8")
    assert "INSTEAD" in text
    assert "hpa-worker.yaml" in text


def test_kustomization_lists_every_core_file() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources)), "duplicate entries"
    core = {path.name for path in K8S.glob("*.yaml")} - NOT_IN_KUSTOMIZATION
    assert set(resources) == core
    assert not set(resources) & NOT_IN_KUSTOMIZATION
    assert kustomization.get("namespace", NAMESPACE) == NAMESPACE
    image_names = {image["name"] for image in kustomization.get("images", [])}
    for _, pod_spec in _workloads():
        for container in _containers(pod_spec):
            assert container["image"].split(":")[0] in image_names


# --- scaling --------------------------------------------------------------------------------


def test_worker_hpa_scales_on_queue_depth_not_cpu() -> None:
    hpa = _one("HorizontalPodAutoscaler", "countersign-worker")
    assert hpa["apiVersion"] == "autoscaling/v2"
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "countersign-worker",
    }
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 20)
    (metric,) = spec["metrics"]
    assert metric["type"] == "External"
    assert metric["external"]["metric"]["name"] == PENDING_METRIC
    target = metric["external"]["target"]
    assert target["type"] == "AverageValue"
    assert str(target["averageValue"]) == "10"
    types = {m["type"] for m in spec["metrics"]}
    assert not types & {"Resource", "ContainerResource"}
    assert "cpu" not in json.dumps(spec["metrics"]).lower()


def test_api_hpa_scales_on_cpu() -> None:
    hpa = _one("HorizontalPodAutoscaler", "countersign-api")
    spec = hpa["spec"]
    assert spec["scaleTargetRef"]["name"] == "countersign-api"
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 10)
    (metric,) = spec["metrics"]
    assert metric["type"] == "Resource"
    assert metric["resource"]["name"] == "cpu"


def test_hpa_targets_have_no_fixed_replica_count() -> None:
    """A `replicas:` in the Deployment would reset the HPA's count on every apply."""
    for hpa in _objects("HorizontalPodAutoscaler"):
        target = _one("Deployment", hpa["spec"]["scaleTargetRef"]["name"])
        assert "replicas" not in target["spec"], target["metadata"]["name"]


def test_prometheus_adapter_rule_serves_the_metric_with_max() -> None:
    configmap = _one("ConfigMap", "prometheus-adapter-countersign")
    config = yaml.safe_load(configmap["data"]["config.yaml"])
    rules = [r for r in config["externalRules"] if PENDING_METRIC in r["seriesQuery"]]
    assert len(rules) == 1
    rule = rules[0]
    assert rule["metricsQuery"].replace(" ", "").startswith("max(<<.Series>>{<<.LabelMatchers>>})")
    assert "sum(" not in rule["metricsQuery"]
    assert rule["name"]["as"] == PENDING_METRIC
    assert rule["resources"]["overrides"]["namespace"] == {"resource": "namespace"}


def test_pdbs_cover_api_and_worker() -> None:
    pdbs = _objects("PodDisruptionBudget")
    for component in ("api", "worker"):
        (deployment,) = _objects("Deployment", component)
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [p for p in pdbs if _matches(p["spec"]["selector"], pod_labels)]
        assert len(covering) == 1, f"{component}: expected one PDB, found {len(covering)}"
        spec = covering[0]["spec"]
        assert ("minAvailable" in spec) != ("maxUnavailable" in spec)
        assert spec.get("minAvailable", 1) == 1
        assert spec.get("maxUnavailable", 1) == 1


# --- pods -----------------------------------------------------------------------------------


def test_every_container_runs_non_root_with_a_read_only_root() -> None:
    workloads = list(_workloads())
    assert {w["kind"] for w, _ in workloads} >= {"Deployment", "Job"}
    for workload, pod_spec in workloads:
        where = workload["metadata"]["name"]
        pod_sc = pod_spec.get("securityContext", {})
        assert pod_sc.get("runAsNonRoot") is True, where
        assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        assert pod_spec.get("automountServiceAccountToken") is False, where
        assert not pod_spec.get("hostNetwork"), where
        assert not pod_spec.get("hostPID"), where
        volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
        for container in _containers(pod_spec):
            name = f"{where}/{container['name']}"
            sc = container.get("securityContext", {})
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, name
            assert sc.get("runAsUser", pod_sc.get("runAsUser")) not in (None, 0), name
            assert sc.get("readOnlyRootFilesystem") is True, name
            assert sc.get("allowPrivilegeEscalation") is False, name
            assert sc.get("privileged", False) is False, name
            assert "ALL" in sc.get("capabilities", {}).get("drop", []), name
            assert not sc.get("capabilities", {}).get("add"), name
            assert sc.get("seccompProfile", pod_sc.get("seccompProfile")) == {
                "type": "RuntimeDefault"
            }, name
            tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            assert len(tmp) == 1, f"{name}: needs a writable /tmp"
            assert "emptyDir" in volumes[tmp[0]["name"]], name
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), name
            assert "memory" in resources.get("limits", {}), name


def test_every_deployment_container_has_probes_on_its_own_ports() -> None:
    expected = {
        "api": (8123, "countersign api"),
        "worker": (9464, "countersign worker"),
    }
    for component, (port_number, command) in expected.items():
        (deployment,) = _objects("Deployment", component)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert " ".join([*container["command"], *container["args"]]) == command
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert port_number in ports.values()
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = container.get(kind)
            assert probe, f"{component}: {kind} missing"
            port = probe["httpGet"]["port"]
            assert ports.get(port, port) == port_number, f"{component}: {kind} port {port}"
        assert container["livenessProbe"]["httpGet"]["path"] == "/ok"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["startupProbe"]["httpGet"]["path"] == "/ok"


def test_grace_periods() -> None:
    (worker,) = _objects("Deployment", "worker")
    (api,) = _objects("Deployment", "api")
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 45
    assert api["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 30


def test_selectors_and_services_line_up() -> None:
    for component in ("api", "worker"):
        (deployment,) = _objects("Deployment", component)
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert pod_labels["app.kubernetes.io/name"] == APP
        assert pod_labels["app.kubernetes.io/component"] == component
        assert _matches(deployment["spec"]["selector"], pod_labels)
        (service,) = _objects("Service", component)
        assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        port_names = {p["name"] for p in container["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names
    worker_service = _one("Service", "countersign-worker-metrics")
    assert worker_service["spec"]["clusterIP"] == "None"
    assert [p["port"] for p in worker_service["spec"]["ports"]] == [9464]
    assert [p["port"] for p in _one("Service", "countersign-api")["spec"]["ports"]] == [8123]


def test_workloads_read_config_and_secrets_that_exist() -> None:
    configmaps = {c["metadata"]["name"] for c in _objects("ConfigMap")}
    secrets = {s["metadata"]["name"] for s in _objects("Secret")}
    for workload, pod_spec in _workloads():
        for container in _containers(pod_spec):
            sources = container.get("envFrom", [])
            refs = {(k, v["name"]) for s in sources for k, v in s.items()}
            assert ("configMapRef", "countersign-config") in refs, workload["metadata"]["name"]
            assert ("secretRef", "countersign-secrets") in refs, workload["metadata"]["name"]
            for kind, name in refs:
                assert name in (configmaps if kind == "configMapRef" else secrets)


def test_migrate_job() -> None:
    job = _one("Job", "countersign-migrate")
    spec = job["spec"]
    assert 1 <= spec["backoffLimit"] <= 6
    assert spec["ttlSecondsAfterFinished"] > 0
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] in {"Never", "OnFailure"}
    (container,) = pod_spec["containers"]
    assert [*container["command"], *container["args"]] == ["countersign", "migrate"]


def test_network_policies() -> None:
    policies = _objects("NetworkPolicy")

    def selecting(component: str) -> list[dict[str, Any]]:
        labels = {"app.kubernetes.io/name": APP, "app.kubernetes.io/component": component}
        chosen = []
        for policy in policies:
            selector = policy["spec"]["podSelector"]
            expressions = selector.get("matchExpressions", [])
            if _matches(selector, labels) or (
                expressions
                and all(
                    e["operator"] == "In" and labels.get(e["key"]) in e["values"]
                    for e in expressions
                )
            ):
                chosen.append(policy)
        return chosen

    def ports(policy: dict[str, Any], direction: str) -> set[int]:
        return {p["port"] for rule in policy["spec"].get(direction, []) for p in rule["ports"]}

    for component, ingress_ports in (("api", {8123}), ("worker", {9464}), ("migrate", set())):
        chosen = selecting(component)
        assert any("Ingress" in p["spec"]["policyTypes"] for p in chosen), component
        assert any("Egress" in p["spec"]["policyTypes"] for p in chosen), component
        allowed_in = set().union(*(ports(p, "ingress") for p in chosen))
        assert allowed_in == ingress_ports, component
        for policy in chosen:
            for rule in policy["spec"].get("ingress", []):
                assert rule.get("ports"), f"{component}: ingress rule without ports"
        allowed_out = set().union(*(ports(p, "egress") for p in chosen))
        assert {53, 5432, 6379, 443} <= allowed_out, component


# --- configuration --------------------------------------------------------------------------


def _settings_fields() -> set[str]:
    from service.settings import Settings

    return set(Settings.model_fields)


def _env_keys_in_files() -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {}
    configmap = _one("ConfigMap", "countersign-config")
    keys["configmap.yaml"] = set(configmap["data"])
    secret = _one("Secret", "countersign-secrets")
    keys["secret.example.yaml"] = set(secret.get("stringData", {}))
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    keys["compose.yaml"] = {
        key for service in compose["services"].values() for key in service.get("environment", {})
    }
    keys["Dockerfile"] = set(_dockerfile_env())
    for _, pod_spec in _workloads():
        for container in _containers(pod_spec):
            keys.setdefault("workloads", set()).update(e["name"] for e in container.get("env", []))
    return keys


def test_every_countersign_variable_is_a_real_setting() -> None:
    fields = _settings_fields()
    for where, names in _env_keys_in_files().items():
        for name in names:
            if not name.startswith("COUNTERSIGN_") or name == "COUNTERSIGN_MIGRATE_DATABASE_URL":
                continue
            field = name.removeprefix("COUNTERSIGN_").lower()
            assert field in fields, f"{where}: {name} is not a Settings field"


def test_configmap_and_example_secret_parse_and_fail_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from service.settings import Settings

    env = dict(_one("ConfigMap", "countersign-config")["data"])
    secret = _one("Secret", "countersign-secrets")
    assert "data" not in secret, "the example Secret uses stringData placeholders only"
    env.update(secret["stringData"])
    for name in list(os.environ):
        if name.startswith("COUNTERSIGN_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        assert isinstance(value, str), f"{name}: ConfigMap/Secret values must be strings"
        monkeypatch.setenv(name, value)
    # the example's placeholder JWT secret is too short: production refuses to start with it
    with pytest.raises(ValueError, match="at least 32 characters"):
        Settings()
    monkeypatch.setenv("COUNTERSIGN_JWT_SECRET", "x" * 48)
    settings = Settings()
    assert settings.env.value == "production"
    assert (settings.host, settings.port) == ("0.0.0.0", 8123)
    assert settings.runs_worker_in_api is False
    assert not settings.embedded


# --- secrets --------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"CHANGE_ME|REPLACE_ME|PASSWORD|\.invalid\b|<[^>]+>", re.IGNORECASE)
_SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\."),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
}
_URL_CREDENTIALS = re.compile(r"\b[a-z][a-z0-9+.-]*://[^:/@\s'\"]*:([^@\s'\"]+)@", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{24,}")
_HEX = re.compile(r"\b[0-9a-fA-F]{32,}\b")


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _secret_findings(text: str) -> list[str]:
    findings = [label for label, pattern in _SECRET_PATTERNS.items() if pattern.search(text)]
    for match in _URL_CREDENTIALS.finditer(text):
        password = match.group(1)
        if not (_PLACEHOLDER.search(password) or password.startswith("$")):
            findings.append(f"password in URL: {match.group(0)}")
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        mixed = all(re.search(p, token) for p in (r"[a-z]", r"[A-Z]", r"[0-9]"))
        if mixed and _entropy(token) > 4.3 and not _PLACEHOLDER.search(token):
            findings.append(f"high-entropy token: {token}")
    for match in _HEX.finditer(text):
        token = match.group(0)
        if re.search(r"[0-9]", token) and re.search(r"[a-fA-F]", token):
            findings.append(f"hex token: {token}")
    return findings


def test_secret_detector_catches_real_looking_secrets() -> None:
    samples = [
        "postgresql://app:s3cr3t-Passw0rd@db:5432/x",
        "jwt: " + "q8Vz3LkP0wXr7NtY2bHs5JdF9gKmA1cE4uQiW6oTnR",
        "token: " + "4f" * 20,
        "-----BEGIN RSA PRIVATE KEY-----",
        "AKIA" + "ABCDEFGHIJKLMNOP",
    ]
    for sample in samples:
        assert _secret_findings(sample), sample
    assert not _secret_findings("postgresql://countersign:CHANGE_ME@db.example.invalid:5432/cs")


def test_no_manifest_contains_a_real_looking_secret() -> None:
    files = [p for p in DEPLOY.rglob("*") if p.is_file()]
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        findings = _secret_findings(text)
        assert not findings, f"{path.relative_to(ROOT)}: {findings}"


def test_only_the_example_file_holds_a_secret_and_only_placeholders() -> None:
    for name, _, doc in DOCS:
        if doc["kind"] == "Secret":
            assert name == "secret.example.yaml"
    secret = _one("Secret", "countersign-secrets")
    values = secret["stringData"]
    assert values
    for key, value in values.items():
        assert "CHANGE_ME" in value, f"{key} must be an obvious placeholder"
    assert len(values["COUNTERSIGN_JWT_SECRET"]) < 32, "must be rejected by production settings"
    configmap = _one("ConfigMap", "countersign-config")
    for key in configmap["data"]:
        assert not re.search(r"SECRET|PASSWORD|TOKEN|DATABASE_URL|REDIS_URL", key), key


# --- compose --------------------------------------------------------------------------------


def test_compose_has_healthy_postgres_and_redis() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    postgres, redis = services["postgres"], services["redis"]
    assert re.fullmatch(r"postgres:15(\.\d+)?(-[a-z0-9]+)?", postgres["image"])
    assert re.fullmatch(r"redis:7(\.\d+)*(-[a-z0-9]+)?", redis["image"])
    for name in ("postgres", "redis"):
        healthcheck = services[name]["healthcheck"]
        assert healthcheck["test"][0] in {"CMD", "CMD-SHELL"}
        assert healthcheck.get("retries", 0) >= 1
        for port in services[name].get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: bind to localhost only"
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert "redis-cli" in redis["healthcheck"]["test"]


def test_compose_app_services_use_the_dockerfile() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    app = {name: s for name, s in services.items() if "build" in s}
    assert set(app) >= {"api", "worker"}
    for name, service in app.items():
        build = service["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (
            DEPLOY / "Dockerfile"
        )
        assert service["command"][0] == "countersign"
        if name in {"api", "worker"}:
            assert service["healthcheck"]["test"][0] in {"CMD", "CMD-SHELL"}
            depends = service["depends_on"]
            assert depends["redis"]["condition"] == "service_healthy"
            assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


# --- Dockerfile -----------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n", " ", text)
    instructions = []
    for line in joined.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, rest = stripped.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in _dockerfile_instructions():
        if keyword == "ENV":
            for pair in rest.split():
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def test_dockerfile_is_multi_stage_pinned_and_non_root() -> None:
    instructions = _dockerfile_instructions()
    froms = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert len(froms) >= 2, "builder + runtime stages"
    args = dict(rest.partition("=")[::2] for keyword, rest in instructions if keyword == "ARG")
    runtime_base = froms[-1].split()[0].replace("${PYTHON_IMAGE}", args.get("PYTHON_IMAGE", ""))
    assert runtime_base == "python:3.11-slim"
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert "pip install -c requirements/constraints.txt ." in runs
    assert any(k == "COPY" and rest.startswith("--from=builder") for k, rest in instructions)
    # the UI is built in a Node stage from the lockfile, so a clean checkout's image serves it
    assert any("AS ui" in rest for rest in froms)
    assert "npm ci" in runs
    assert "npm run build" in runs
    assert ("COPY", "--from=ui /ui/dist /app/frontend/dist") in instructions
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users, "the image must switch to a non-root user"
    assert users[-1].split(":")[0] == "10001"
    env = _dockerfile_env()
    assert env["LANGGRAPH_STRICT_MSGPACK"] == "true"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["COUNTERSIGN_HOST"] == "0.0.0.0"
    assert env["COUNTERSIGN_PORT"] == "8123"
    (cmd,) = [rest for keyword, rest in instructions if keyword == "CMD"]
    assert json.loads(cmd) == ["countersign", "api"]
    assert not [k for k, _ in instructions if k == "ENTRYPOINT"], "k8s sets command/args"


def test_dockerignore_ships_what_the_image_needs() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "allow-list: exclude everything first"
    included = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    needed = {
        "pyproject.toml",
        "README.md",
        "requirements/constraints.txt",
        "service",
        "langgraph.json",
        "graphs",
        "alembic",
        "alembic.ini",
    }
    assert needed <= included
    assert {"policies", "frontend"} <= included  # the UI is built from its sources
    assert {"frontend/node_modules", "frontend/dist"} <= set(patterns), "never a local build"
    for path in needed:
        assert (ROOT / path).exists(), f"{path} is shipped but missing from the repository"
    # every graph registered in langgraph.json is inside a shipped folder
    graphs = json.loads((ROOT / "langgraph.json").read_text(encoding="utf-8"))["graphs"]
    for target in graphs.values():
        location = target.split(":")[0].removeprefix("./")
        assert any(location == inc or location.startswith(inc + "/") for inc in included)
