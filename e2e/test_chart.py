"""The Helm chart lints, renders for each scenario in charts/mlkube/ci, and every object it
renders is accepted by the real API server (server-side dry run, so RBAC rules and workload specs
are validated for real). What the rendered objects say (images, security, MinIO's storage, the CA
bundle) is checked on `helm template` output."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.cluster.cluster import ROOT, LocalCluster
from e2e.cluster.platform import helm

CHART = ROOT / "charts" / "mlkube"
SCENARIOS = [None, *sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))]


def test_chart_lints(cluster: LocalCluster) -> None:
    out = helm(cluster, "lint", str(CHART), "--strict")
    assert "0 chart(s) failed" in out


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s or "defaults")
def test_rendered_objects_pass_server_side_validation(
    cluster: LocalCluster, namespace: str, scenario: str | None
) -> None:
    values = ["-f", str(CHART / "ci" / scenario)] if scenario else []
    rendered = helm(cluster, "template", "mlkube", str(CHART), "-n", namespace, *values)
    out = cluster.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", stdin=rendered)
    assert "created (server dry run)" in out


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


def render(cluster: LocalCluster, *values: str) -> dict[tuple[str, str], dict[str, Any]]:
    """`helm template` of the chart as objects by (kind, name)."""
    text = helm(cluster, "template", "mlkube", str(CHART), "-n", "mlkube-system", *values)
    docs = [d for d in yaml.safe_load_all(text) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


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
