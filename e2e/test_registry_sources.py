"""Issue 13, registry sources: the operator itself refuses a ModelVersion source outside its
namespace's prefix (or the allowlist), however it is spelt, and a storage error ends the
registration. ModelVersions are applied with kubectl, so the tracking server's check is bypassed:
what is tested is the operator's."""

from __future__ import annotations

import io
import uuid

from minio import Minio

from e2e.cluster.cluster import LocalCluster
from e2e.cluster.platform import MISSING_ALLOWLISTED_BUCKET
from e2e.cluster.waiting import eventually
from e2e.test_registry import MLMODEL, phase_of, s3
from mlkube.sources import PREFIX_RULE, SPELLING_RULE

OTHER_BUCKET = "mlkube-other"


def put_model(client: Minio, bucket: str, prefix: str) -> None:
    """An MLflow model directory that would register fine if the rule let it."""
    for name, data in (("MLmodel", MLMODEL.encode()), ("model.pkl", b"\x80\x04pickled")):
        client.put_object(bucket, f"{prefix}/{name}", io.BytesIO(data), length=len(data))


def failed_message(cluster: LocalCluster, namespace: str, name: str) -> str:
    eventually(lambda: phase_of(cluster, namespace, name), timeout=60, what=f"{name}'s outcome")
    status = cluster.get_json(namespace, "modelversion", name)["status"]
    assert status["phase"] == "FailedRegistration", status
    return str(status["message"])


def test_sources_outside_the_namespace_fail_registration_and_nothing_is_copied(
    operator: LocalCluster, namespace: str, other_namespace: str
) -> None:
    client = s3(operator)
    b_model = f"{other_namespace}/experiments/0/{uuid.uuid4().hex}/artifacts/model"
    put_model(client, "mlkube", b_model)
    if not client.bucket_exists(OTHER_BUCKET):
        client.make_bucket(OTHER_BUCKET)
    put_model(client, OTHER_BUCKET, f"{namespace}/model")
    sources = {
        "b-prefix": (f"s3://mlkube/{b_model}", PREFIX_RULE, f"outside namespace {namespace}'s"),
        "other-bucket": (f"s3://{OTHER_BUCKET}/{namespace}/model", PREFIX_RULE, "is in bucket"),
        "upper-case": (f"s3://MLKUBE/{b_model}", SPELLING_RULE, "not an S3 bucket name"),
        "port": (f"s3://mlkube:9000/{b_model}", SPELLING_RULE, "a port is not allowed"),
        "userinfo": (f"s3://x@mlkube/{b_model}", SPELLING_RULE, "user information"),
        "dot-dot": (f"s3://mlkube/{namespace}/%2e%2e/{b_model}", SPELLING_RULE, "%-escapes"),
    }
    operator.apply_objects(
        namespace,
        {"kind": "RegisteredModel", "metadata": {"name": "stolen"}},
        *(
            {
                "kind": "ModelVersion",
                "metadata": {"name": name},
                "spec": {"model": "stolen", "source": source},
            }
            for name, (source, _, _) in sources.items()
        ),
    )
    for name, (_, rule, detail) in sources.items():
        message = failed_message(operator, namespace, name)
        assert rule in message, (name, message)
        assert detail in message, (name, message)
    ready = operator.get_json(namespace, "modelversion", "b-prefix")["status"]["conditions"]
    assert [(c["status"], c["reason"]) for c in ready if c["type"] == "Ready"] == [
        ("False", "SourceRefused")
    ]
    events = operator.kubectl(
        "get", "events", "-n", namespace, "--field-selector", "involvedObject.name=b-prefix"
    )
    assert "SourceRefused" in events
    copied = list(client.list_objects("mlkube", prefix=f"{namespace}/", recursive=True))
    assert [o.object_name for o in copied] == [], "nothing may be copied into a's prefix"


def test_a_storage_error_ends_the_registration(operator: LocalCluster, namespace: str) -> None:
    """The operator's allowlist (e2e/cluster/platform.py) names a bucket that does not exist."""
    source = f"s3://{MISSING_ALLOWLISTED_BUCKET}/models/iris"
    operator.apply_objects(
        namespace,
        {"kind": "RegisteredModel", "metadata": {"name": "iris"}},
        {
            "kind": "ModelVersion",
            "metadata": {"name": "iris-1"},
            "spec": {"model": "iris", "source": source},
        },
    )
    message = failed_message(operator, namespace, "iris-1")
    assert "NoSuchBucket" in message, message
    assert "a final answer, not retried" in message, message
    copied = list(s3(operator).list_objects("mlkube", prefix=f"{namespace}/", recursive=True))
    assert copied == []
