"""The Kubernetes + object storage store passes the store contract, on the real cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e.cluster.cluster import LocalCluster
from tests.contracts.tracking import StoreContract

from mlkube.objects.s3 import S3Objects
from mlkube_operator.kube import KubeClient
from mlkube_operator.server.store.tracking.kube.store import KubeStore


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


class TestKubeStore(StoreContract):
    pass
