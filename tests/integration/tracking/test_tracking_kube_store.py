"""The Kubernetes + object storage store passes the store contract, on the real cluster."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from e2e.cluster.cluster import LocalCluster
from tests.unit.tracking.contract import StoreContract

from mlkube_operator.kube import KubeClient
from mlkube_operator.server.artifacts.s3 import S3Objects
from mlkube_operator.server.store.kube.store import KubeStore


@pytest.fixture(scope="module")
def store(cluster: LocalCluster) -> Iterator[KubeStore]:
    s3 = cluster.s3
    objects = S3Objects(s3.endpoint, s3.access_key, s3.secret_key, s3.bucket)
    objects.ensure_bucket()
    client = KubeClient.from_config(str(cluster.kubeconfig))
    kube_store = KubeStore(client, objects, "default")
    kube_store.start(timeout=60)
    try:
        yield kube_store
    finally:
        kube_store.close()
        client.close()


@pytest.fixture
def workspace(namespace: str) -> str:
    return namespace


@pytest.fixture
def other_workspace(cluster: LocalCluster) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    cluster.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


class TestKubeStore(StoreContract):
    pass
