"""The Kubernetes registry store passes the registry store contract, on the real cluster, and
keeps MLflow names and numbers in the resources as kubectl shows them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from e2e.cluster.cluster import LocalCluster
from e2e.cluster.waiting import eventually
from tests.contracts.registry import RUN_ID, RegistryContract, source

from mlkube_operator.kube import KubeClient
from mlkube_operator.server.store.registry.kube.store import KubeRegistryStore


@pytest.fixture(scope="module")
def registry(cluster: LocalCluster) -> Iterator[KubeRegistryStore]:
    client = KubeClient.from_config(str(cluster.kubeconfig))
    store = KubeRegistryStore(client)
    store.start(timeout=60)
    try:
        yield store
    finally:
        store.close()
        client.close()


class TestKubeRegistryStore(RegistryContract):
    pass


def test_resources_hold_the_mlflow_view(
    registry: KubeRegistryStore, cluster: LocalCluster, namespace: str
) -> None:
    registry.create_registered_model(namespace, "iris", "", {})
    registry.create_registered_model(namespace, "Churn Model (v2)", "", {})
    registry.create_model_version(namespace, "Churn Model (v2)", source())
    registry.set_registered_model_alias(namespace, "Churn Model (v2)", "champion", 1)
    models = json.loads(cluster.kubectl("get", "registeredmodels", "-n", namespace, "-o", "json"))
    by_name = {m["metadata"]["name"]: m for m in models["items"]}
    assert "iris" in by_name
    assert "displayName" not in by_name["iris"]["spec"]
    churn = next(m for m in models["items"] if m["spec"].get("displayName") == "Churn Model (v2)")
    resource = churn["metadata"]["name"]
    assert resource.startswith("churn-model-v2-")
    assert churn["spec"]["aliases"] == {"champion": 1}
    assert churn["status"]["latestVersion"] == 1
    versions = json.loads(cluster.kubectl("get", "modelversions", "-n", namespace, "-o", "json"))
    (version,) = versions["items"]
    assert version["spec"]["model"] == resource
    assert version["spec"]["source"] == f"runs:/{RUN_ID}/model"
    assert version["status"]["version"] == 1
    assert version["metadata"]["labels"]["mlkube.io/model"] == resource
    # Renaming changes only the display name: versions keep naming the same resource.
    registry.rename_registered_model(namespace, "Churn Model (v2)", "churn")
    renamed = json.loads(
        cluster.kubectl("get", "registeredmodel", resource, "-n", namespace, "-o", "json")
    )
    assert renamed["spec"]["displayName"] == "churn"
    assert registry.get_model_version(namespace, "churn", 1).aliases == ("champion",)


def test_a_version_applied_with_kubectl_is_visible_once_numbered(
    registry: KubeRegistryStore, cluster: LocalCluster, namespace: str
) -> None:
    """Objects the API did not make (GitOps) are read the same way; here the number is claimed
    by hand as the operator would."""
    registry.create_registered_model(namespace, "applied", "", {})
    body = {
        "apiVersion": "mlkube.io/v1alpha1",
        "kind": "ModelVersion",
        "metadata": {"name": "applied-by-hand"},
        "spec": {"model": "applied", "source": "s3://mlkube/somewhere/model", "stage": "Staging"},
    }
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(body))
    cluster.kubectl(
        "patch",
        "modelversion",
        "applied-by-hand",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"version": 1, "phase": "Ready", "storageUri": "s3://x/y"}}),
    )

    def visible() -> bool:
        return bool(registry.list_model_versions(namespace, "applied"))

    eventually(visible, timeout=30, what="the applied version in the watch-fed cache")
    version = registry.get_model_version(namespace, "applied", 1)
    assert version.source == "s3://mlkube/somewhere/model"
    assert version.current_stage.value == "Staging"
    assert version.status.value == "READY"
    uri = registry.get_model_version_download_uri(namespace, "applied", 1)
    assert uri == "mlflow-artifacts:/models/applied/1"
