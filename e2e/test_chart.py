"""The Helm chart lints, renders for each scenario in charts/mlkube/ci, and every object it
renders is accepted by the real API server (server-side dry run, so RBAC rules and workload specs
are validated for real). What the rendered objects say (images, security, MinIO's storage, the CA
bundle, RBAC per watched namespace, NetworkPolicies, the generated MinIO password) is checked on
`helm template` output: the local cluster's network plugin does not enforce NetworkPolicy."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.cluster.cluster import ROOT, LocalCluster
from e2e.cluster.platform import helm

CHART = ROOT / "charts" / "mlkube"
SCENARIOS = [None, *sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))]
RELEASE_NAMESPACE = "mlkube-system"


def test_chart_lints(cluster: LocalCluster) -> None:
    out = helm(cluster, "lint", str(CHART), "--strict")
    assert "0 chart(s) failed" in out


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s or "defaults")
def test_rendered_objects_pass_server_side_validation(
    cluster: LocalCluster, namespace: str, scenario: str | None
) -> None:
    values = ["-f", str(CHART / "ci" / scenario)] if scenario else []
    rendered = helm(cluster, "template", "mlkube", str(CHART), "-n", namespace, *values)
    # Roles of operator.watchNamespaces name their namespace; everything else is the release's.
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for doc in yaml.safe_load_all(rendered):
        if doc:
            by_namespace.setdefault(doc["metadata"].get("namespace", namespace), []).append(doc)
    made = [n for n in by_namespace if n != namespace]
    for name in made:
        cluster.kubectl("create", "namespace", name)
    try:
        for name, docs in by_namespace.items():
            listed = json.dumps({"apiVersion": "v1", "kind": "List", "items": docs})
            out = cluster.kubectl("apply", "--dry-run=server", "-n", name, "-f", "-", stdin=listed)
            assert "created (server dry run)" in out
    finally:
        for name in made:
            cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_bad_values_are_refused_by_the_schema(cluster: LocalCluster, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("server:\n  port: 70000\noperator:\n  enabeld: true\n")
    result = subprocess.run(
        [str(cluster.bin_dir / "helm"), "template", "x", str(CHART), "-f", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "port" in result.stderr
    assert "enabeld" in result.stderr


def rendered(cluster: LocalCluster, *values: str) -> list[dict[str, Any]]:
    """`helm template` of the chart (release mlkube in mlkube-system), object by object."""
    text = helm(cluster, "template", "mlkube", str(CHART), "-n", RELEASE_NAMESPACE, *values)
    return [d for d in yaml.safe_load_all(text) if d]


def render(cluster: LocalCluster, *values: str) -> dict[tuple[str, str], dict[str, Any]]:
    """`helm template` of the chart as objects by (kind, name)."""
    return {(d["kind"], d["metadata"]["name"]): d for d in rendered(cluster, *values)}


def pod(objects: dict[tuple[str, str], dict[str, Any]], name: str) -> dict[str, Any]:
    spec: dict[str, Any] = objects["Deployment", name]["spec"]["template"]["spec"]
    return spec


def env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def test_the_charts_pods_are_non_root_with_read_only_root_filesystems(
    cluster: LocalCluster,
) -> None:
    objects = render(cluster)
    for name in ("mlkube-operator", "mlkube-server", "mlkube-minio"):
        spec = pod(objects, name)
        assert spec["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        }, name
        (container,) = spec["containers"]
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        }, name
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name


def test_images_are_composed_from_one_registry_and_the_apps_version(cluster: LocalCluster) -> None:
    version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    objects = render(cluster)
    mlkube = f"docker.io/mlkube/mlkube:{version}"
    operator = pod(objects, "mlkube-operator")["containers"][0]
    assert operator["image"] == pod(objects, "mlkube-server")["containers"][0]["image"] == mlkube
    assert pod(objects, "mlkube-minio")["containers"][0]["image"] == (
        f"docker.io/mlkube/minio:{version}"
    )
    settings = env(operator)
    assert settings["MLKUBE_RUNTIME_IMAGE"] == f"docker.io/mlkube/mlkube-runtime:{version}"
    assert settings["MLKUBE_RUNNER_IMAGE"] == settings["MLKUBE_SERVING_IMAGE"] == mlkube
    mirrored = render(
        cluster, "--set", "image.registry=mirror.example:5000", "--set", "image.tag=t"
    )
    assert pod(mirrored, "mlkube-server")["containers"][0]["image"] == (
        "mirror.example:5000/mlkube/mlkube:t"
    )


def test_the_server_authenticates_unless_single_user_mode_is_asked_for(
    cluster: LocalCluster,
) -> None:
    server = env(pod(render(cluster), "mlkube-server")["containers"][0])
    assert server["MLKUBE_AUTH"] == "kubernetes"
    assert server["MLKUBE_TOKEN_AUDIENCES"] == "mlkube"
    assert server["MLKUBE_METRICS_PORT"] == "9090"
    single = render(cluster, "--set", "server.auth=none")
    assert env(pod(single, "mlkube-server")["containers"][0])["MLKUBE_AUTH"] == "none"
    with pytest.raises(RuntimeError, match="auth"):
        render(cluster, "--set", "server.auth=off")


def test_minio_answers_on_the_default_endpoint_and_keeps_its_data_on_a_claim(
    cluster: LocalCluster,
) -> None:
    objects = render(cluster)
    endpoint = env(pod(objects, "mlkube-operator")["containers"][0])["MLKUBE_S3_ENDPOINT"]
    assert endpoint == "http://mlkube-minio.mlkube-system.svc:9000"
    assert ("Service", "mlkube-minio") in objects
    minio = pod(objects, "mlkube-minio")
    assert minio["containers"][0]["args"] == ["server", "/data", "--address", ":9000"]
    probes = minio["containers"][0]
    assert probes["readinessProbe"]["httpGet"]["path"] == "/minio/health/ready"
    assert probes["livenessProbe"]["httpGet"]["path"] == "/minio/health/live"
    data = next(v for v in minio["volumes"] if v["name"] == "data")
    assert data["persistentVolumeClaim"] == {"claimName": "mlkube-minio"}
    claim = objects["PersistentVolumeClaim", "mlkube-minio"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "10Gi"
    assert "storageClassName" not in claim  # the cluster's default StorageClass

    no_class = render(cluster, "--set", "minio.persistence.storageClass=-")
    assert no_class["PersistentVolumeClaim", "mlkube-minio"]["spec"]["storageClassName"] == ""
    existing = render(cluster, "--set", "minio.persistence.existingClaim=mine")
    assert ("PersistentVolumeClaim", "mlkube-minio") not in existing
    volumes = pod(existing, "mlkube-minio")["volumes"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "mine"}} in volumes
    ephemeral = render(cluster, "--set", "minio.persistence.enabled=false")
    assert ("PersistentVolumeClaim", "mlkube-minio") not in ephemeral
    assert {"name": "data", "emptyDir": {}} in pod(ephemeral, "mlkube-minio")["volumes"]


def test_an_external_object_store_replaces_minio(cluster: LocalCluster) -> None:
    objects = render(cluster, "-f", str(CHART / "ci" / "external-object-store-values.yaml"))
    assert not [key for key in objects if "minio" in key[1]]
    for name in ("mlkube-operator", "mlkube-server"):
        container = pod(objects, name)["containers"][0]
        assert env(container)["MLKUBE_S3_ENDPOINT"] == "https://s3.example.internal"
    assert ("Service", "mlkube-server") in objects


def test_the_ca_bundle_reaches_the_operator(cluster: LocalCluster) -> None:
    objects = render(cluster, "-f", str(CHART / "ci" / "ca-bundle-values.yaml"))
    bundle = objects["ConfigMap", "mlkube-operator-ca-bundle"]["data"]["ca.crt"]
    assert bundle.startswith("-----BEGIN CERTIFICATE-----")
    spec = pod(objects, "mlkube-operator")
    container = spec["containers"][0]
    assert env(container)["MLKUBE_CA_BUNDLE"] == "/etc/mlkube/ca-bundle/ca.crt"
    assert {
        "name": "ca-bundle",
        "mountPath": "/etc/mlkube/ca-bundle",
        "readOnly": True,
    } in container["volumeMounts"]
    assert {"name": "ca-bundle", "configMap": {"name": "mlkube-operator-ca-bundle"}} in spec[
        "volumes"
    ]
    assert ("ConfigMap", "mlkube-operator-ca-bundle") not in render(cluster)


def rules(role: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = role.get("rules") or []
    return found


def resources(role: dict[str, Any]) -> set[str]:
    return {r for rule in rules(role) for r in rule["resources"]}


def roles(objects: list[dict[str, Any]], kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Objects of ``kind`` by (namespace, name)."""
    return {
        (d["metadata"].get("namespace", ""), d["metadata"]["name"]): d
        for d in objects
        if d["kind"] == kind
    }


NAMESPACED = {"experiments", "runs", "jobs", "deployments", "pods", "events", "serviceaccounts"}


def test_watched_namespaces_get_roles_and_the_cluster_roles_keep_only_cluster_rules(
    cluster: LocalCluster,
) -> None:
    objects = rendered(cluster, "--set", "operator.watchNamespaces={team-a,team-b}")
    made = roles(objects, "Role")
    bound = roles(objects, "RoleBinding")
    for account in ("mlkube-operator", "mlkube-server"):
        watched = {ns for ns, name in made if name == account}
        assert watched == {"team-a", "team-b"}, account
        assert {ns for ns, name in bound if name == account} == watched, account
        for ns in watched:
            assert bound[ns, account]["roleRef"] == {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": account,
            }
            assert bound[ns, account]["subjects"] == [
                {"kind": "ServiceAccount", "name": account, "namespace": RELEASE_NAMESPACE}
            ]
        assert {"experiments", "runs"} <= resources(made["team-a", account])
        cluster_role = roles(objects, "ClusterRole")["", account]
        assert not resources(cluster_role) & NAMESPACED, account
        # The experiment-id counter stays in the release's namespace, and nowhere else.
        config = made[RELEASE_NAMESPACE, f"{account}-configmaps"]
        assert resources(config) == {"configmaps"}
    server = roles(objects, "ClusterRole")["", "mlkube-server"]
    assert resources(server) == {"tokenreviews", "subjectaccessreviews"}
    operator = roles(objects, "ClusterRole")["", "mlkube-operator"]
    assert resources(operator) == {"customresourcedefinitions", "clusterroles"}
    bind = next(rule for rule in rules(operator) if rule["resources"] == ["clusterroles"])
    assert bind["verbs"] == ["bind"]
    assert bind["resourceNames"] == ["mlkube-run", "mlkube-serving"]

    everywhere = rendered(cluster)
    assert set(roles(everywhere, "Role")) == {
        (RELEASE_NAMESPACE, "mlkube-operator-configmaps"),
        (RELEASE_NAMESPACE, "mlkube-server-configmaps"),
    }
    server = roles(everywhere, "ClusterRole")["", "mlkube-server"]
    assert {"experiments", "runs", "namespaces", "tokenreviews"} <= resources(server)


def test_the_server_serves_the_watched_namespaces_and_defaults_to_one_of_them(
    cluster: LocalCluster,
) -> None:
    def server(*values: str) -> tuple[str, list[str]]:
        (container,) = pod(render(cluster, *values), "mlkube-server")["containers"]
        return env(container)["MLKUBE_WATCH_NAMESPACES"], container["args"]

    watched = ("--set", "operator.watchNamespaces={team-a,team-b}")
    served, args = server(*watched)
    assert served == "team-a,team-b"
    assert "--namespace=team-a" in args  # `default`, the value's default, is not served
    _, args = server(*watched, "--set", "server.defaultWorkspace=team-b")
    assert "--namespace=team-b" in args
    served, args = server()
    assert served == ""  # every namespace
    assert "--namespace=default" in args


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s or "defaults")
def test_no_role_of_the_chart_names_secrets(cluster: LocalCluster, scenario: str | None) -> None:
    objects = rendered(cluster, *(["-f", str(CHART / "ci" / scenario)] if scenario else []))
    for doc in objects:
        if doc["kind"] in ("Role", "ClusterRole"):
            assert "secrets" not in resources(doc), doc["metadata"]["name"]
            assert "*" not in resources(doc), doc["metadata"]["name"]


def test_configmaps_outside_the_release_namespace_only_for_the_ca_bundle(
    cluster: LocalCluster,
) -> None:
    def configmap_rules(*values: str) -> list[dict[str, Any]]:
        operator = roles(rendered(cluster, *values), "ClusterRole")["", "mlkube-operator"]
        return [rule for rule in rules(operator) if "configmaps" in rule["resources"]]

    assert configmap_rules() == []
    (rule,) = configmap_rules("-f", str(CHART / "ci" / "ca-bundle-values.yaml"))
    assert rule["resourceNames"] == ["mlkube-ca-bundle"]
    assert rule["verbs"] == ["get", "create", "patch"]


def test_user_roles_aggregate_into_kubernetes_edit_and_view(cluster: LocalCluster) -> None:
    objects = render(cluster)
    every = {
        "experiments", "runs", "registeredmodels", "modelversions", "modeldeployments",
        "loggedmodels", "sweeps",
    }  # fmt: skip
    edit = objects["ClusterRole", "mlkube-edit"]
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert resources(edit) == every
    assert {"create", "update", "delete"} <= set(rules(edit)[0]["verbs"])
    view = objects["ClusterRole", "mlkube-view"]
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert resources(view) == every
    assert rules(view)[0]["verbs"] == ["get", "list", "watch"]


def policies(objects: dict[tuple[str, str], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: o["spec"] for (kind, name), o in objects.items() if kind == "NetworkPolicy"}


def component(name: str) -> dict[str, Any]:
    return {
        "matchLabels": {
            "app.kubernetes.io/instance": "mlkube",
            "app.kubernetes.io/component": name,
        }
    }


def test_network_policies_let_only_the_operator_and_the_server_reach_minio(
    cluster: LocalCluster,
) -> None:
    objects = render(cluster, "--set", "minio.port=9100", "--set", "operator.metricsPort=9191")
    found = policies(objects)
    assert set(found) == {"mlkube-minio", "mlkube-operator", "mlkube-server"}
    for name, spec in found.items():
        assert spec["policyTypes"] == ["Ingress"], name
        # Each policy selects the pods of its own Deployment.
        selected = objects["Deployment", name]["spec"]["selector"]
        assert spec["podSelector"] == selected == component(name.removeprefix("mlkube-"))
    (minio,) = found["mlkube-minio"]["ingress"]
    assert minio["from"] == [
        {"podSelector": component("server")},
        {"podSelector": component("operator")},
    ]
    assert minio["ports"] == [{"protocol": "TCP", "port": 9100}]
    # The operator: metrics only; the server: its port and metrics, from anywhere (no `from`).
    assert found["mlkube-operator"]["ingress"] == [{"ports": [{"protocol": "TCP", "port": 9191}]}]
    server_ports = [{"protocol": "TCP", "port": 5000}, {"protocol": "TCP", "port": 9090}]
    assert found["mlkube-server"]["ingress"] == [{"ports": server_ports}]

    external = render(cluster, "-f", str(CHART / "ci" / "external-object-store-values.yaml"))
    assert set(policies(external)) == {"mlkube-operator", "mlkube-server"}
    assert policies(render(cluster, "--set", "networkPolicy.enabled=false")) == {}


def secret_key(objects: dict[tuple[str, str], dict[str, Any]]) -> str:
    key: str = objects["Secret", "mlkube-s3"]["stringData"]["secretKey"]
    return key


def test_the_bundled_minio_gets_a_generated_password_never_a_default(
    cluster: LocalCluster,
) -> None:
    first, second = secret_key(render(cluster)), secret_key(render(cluster))
    assert len(first) == len(second) == 40
    assert first != second
    assert first.isalnum()
    assert "change-me" not in (CHART / "values.yaml").read_text()
    assert secret_key(render(cluster, "--set", "objectStore.secretKey=mine")) == "mine"
    existing = render(cluster, "--set", "objectStore.existingSecret=team-s3")
    assert ("Secret", "mlkube-s3") not in existing
    with pytest.raises(RuntimeError, match=r"objectStore\.endpoint is set"):
        render(cluster, "--set", "objectStore.endpoint=https://s3.example")


def test_the_generated_password_survives_an_upgrade(cluster: LocalCluster, namespace: str) -> None:
    # MinIO alone (no pods are waited for): what matters is the Secret the release keeps.
    release = ["mlkube-password", str(CHART), "-n", namespace, "--skip-crds"]
    only_minio = [
        "--set", "operator.enabled=false", "--set", "server.enabled=false",
        "--set", "minio.persistence.enabled=false",
    ]  # fmt: skip
    helm(cluster, "install", *release, *only_minio)

    def stored() -> str:
        found = cluster.get_json(namespace, "secret", "mlkube-password-s3")
        return base64.b64decode(found["data"]["secretKey"]).decode()

    try:
        before = stored()
        helm(cluster, "upgrade", *release, *only_minio, "--set", "minio.port=9100")
        assert stored() == before
        assert len(before) == 40
    finally:
        helm(cluster, "uninstall", "mlkube-password", "-n", namespace)
