"""Issue 13: a storage error ends a registration instead of leaving it pending, against the
session's real MinIO and API server. The ModelVersion reconciler runs in the test's process (no
operator); only kopf.event, which posts through a running operator, is recorded instead."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e.cluster.cluster import LocalCluster, free_port

from mlkube.objects import ObjectStoreError, ObjectStoreRefused
from mlkube.objects.s3 import S3Objects
from mlkube_operator.controllers import model_version as controller
from mlkube_operator.controllers.context import Context
from mlkube_operator.controllers.indexes import Indexes
from mlkube_operator.controllers.model_version import ModelVersionReconciler
from mlkube_operator.kube import KubeClient
from mlkube_operator.settings import Settings

MISSING_BUCKET = "mlkube-no-such-bucket"


@pytest.fixture(autouse=True)
def events(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    posted: list[tuple[str, str]] = []
    monkeypatch.setattr(
        controller.kopf,
        "event",
        lambda body, *, type, reason, message: posted.append((type, reason)),
    )
    return posted


def objects(
    cluster: LocalCluster, endpoint: str | None = None, secret: str | None = None
) -> S3Objects:
    return S3Objects(
        endpoint or cluster.s3.endpoint,
        cluster.s3.access_key,
        secret or cluster.s3.secret_key,
        "mlkube",
    )


def test_minio_answers_are_final_and_an_unreachable_store_is_transient(
    cluster: LocalCluster,
) -> None:
    with pytest.raises(ObjectStoreRefused, match="NoSuchBucket"):
        objects(cluster).in_bucket(MISSING_BUCKET).list_all("models/")
    with pytest.raises(ObjectStoreRefused, match=r"SignatureDoesNotMatch|InvalidAccessKeyId"):
        objects(cluster, secret="not-the-secret").list_all("models/")
    with pytest.raises(ObjectStoreError) as unreachable:
        objects(cluster, endpoint=f"http://127.0.0.1:{free_port()}").list_all("models/")
    assert not isinstance(unreachable.value, ObjectStoreRefused)


def test_a_version_from_an_allowlisted_bucket_that_does_not_exist_fails_registration(
    cluster: LocalCluster, namespace: str, events: list[tuple[str, str]]
) -> None:
    cluster.apply_objects(
        namespace,
        {"kind": "RegisteredModel", "metadata": {"name": "iris"}},
        {
            "kind": "ModelVersion",
            "metadata": {"name": "iris-1"},
            "spec": {"model": "iris", "source": f"s3://{MISSING_BUCKET}/models/iris"},
        },
    )
    settings = Settings(
        s3_endpoint=cluster.s3.endpoint,
        s3_access_key=cluster.s3.access_key,
        s3_secret_key=cluster.s3.secret_key,
        registry_source_allowlist=[f"s3://{MISSING_BUCKET}/models/"],
    )
    ctx = Context(settings=settings, kube=KubeClient.from_config(str(cluster.kubeconfig)))
    pauses: list[float] = []
    reconciler = ModelVersionReconciler(ctx, sleep=pauses.append)
    empty = Indexes(
        **{k: {} for k in ("runs", "experiments", "jobs", "pods", "models", "versions")}
    )
    reconciler.reconcile(empty, namespace, "iris-1")
    status = cluster.get_json(namespace, "modelversion", "iris-1")["status"]
    assert status["phase"] == "FailedRegistration"
    assert status["version"] == 1
    assert "NoSuchBucket" in status["message"], status["message"]
    assert "a final answer, not retried" in status["message"]
    assert events == [("Warning", "StorageError")]
    assert pauses == []
    assert objects(cluster).list_all(f"{namespace}/models/") == []
