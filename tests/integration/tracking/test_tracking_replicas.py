"""Two tracking-store replicas over one API server and one MinIO agree (issue 12): what one
writes, the other reads and searches at once, and concurrent changes of one logged model through
both are all kept (the conditional PUT on the document's entity tag)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from e2e.cluster.cluster import LocalCluster
from e2e.cluster.waiting import eventually

from mlkube.objects import PreconditionFailed
from mlkube.objects.s3 import S3Objects
from mlkube_operator.kube import KubeClient
from mlkube_operator.server.entities import LoggedModelStatus, ViewType
from mlkube_operator.server.store.tracking.kube.store import KubeStore


def _objects(cluster: LocalCluster) -> S3Objects:
    s3 = cluster.s3
    objects = S3Objects(s3.endpoint, s3.access_key, s3.secret_key, s3.bucket)
    objects.ensure_bucket()
    return objects


@pytest.fixture(scope="module")
def replicas(cluster: LocalCluster) -> Iterator[tuple[KubeStore, KubeStore]]:
    stores: list[KubeStore] = []
    clients: list[KubeClient] = []
    for _ in range(2):
        client = KubeClient.from_config(str(cluster.kubeconfig))
        store = KubeStore(client, _objects(cluster), "default")
        store.start(timeout=60)
        stores.append(store)
        clients.append(client)
    try:
        yield stores[0], stores[1]
    finally:
        for store in stores:
            store.close()
        for client in clients:
            client.close()


def test_conditional_put_refuses_a_stale_tag(cluster: LocalCluster, workspace: str) -> None:
    objects = _objects(cluster)
    key = f"{workspace}/conditional/doc.json"
    first = objects.put_if(key, b"one", None)
    with pytest.raises(PreconditionFailed):
        objects.put_if(key, b"again", None)  # a create does not overwrite
    second = objects.put_if(key, b"two", first)
    with pytest.raises(PreconditionFailed):
        objects.put_if(key, b"three", first)  # someone wrote since `first`
    assert objects.get_tagged(key) == (b"two", second)


def test_logged_models_agree_across_replicas(
    replicas: tuple[KubeStore, KubeStore], workspace: str
) -> None:
    one, two = replicas
    experiment_id = one.create_experiment(workspace, "replicated", None, {})
    model = one.create_logged_model(
        workspace,
        experiment_id,
        name="m",
        source_run_id=None,
        model_type=None,
        params={"alpha": "1"},
        tags={},
    )
    assert two.get_logged_model(workspace, model.model_id) == model
    eventually(
        lambda: two.list_experiments(workspace, ViewType.ALL) and True,
        timeout=30,
        what="the experiment in the second replica's cache",
    )

    def found(store: KubeStore) -> list[str]:
        page = store.search_logged_models(
            workspace,
            [experiment_id],
            filter_string="tags.stage = 'blue'",
            order_by=[],
            max_results=10,
            page_token=None,
        )
        return [m.model_id for m in page.items]

    assert found(two) == []  # read once, so the second replica has a copy to invalidate
    two.set_logged_model_tags(workspace, model.model_id, {"stage": "blue"})
    assert found(one) == [model.model_id]
    one.finalize_logged_model(workspace, model.model_id, LoggedModelStatus.LOGGED_MODEL_READY)
    assert two.get_logged_model(workspace, model.model_id).status is (
        LoggedModelStatus.LOGGED_MODEL_READY
    )

    # Tags set through both replicas at once: every one of them lands.
    def tag(store: KubeStore, start: int) -> None:
        for i in range(start, start + 10, 2):
            store.set_logged_model_tags(workspace, model.model_id, {f"t{i}": str(i)})

    threads = [threading.Thread(target=tag, args=(s, n)) for s, n in ((one, 0), (two, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    tags = one.get_logged_model(workspace, model.model_id).tags
    assert {f"t{i}" for i in range(10)} <= set(tags)

    two.delete_logged_model(workspace, model.model_id)
    assert found(one) == []
