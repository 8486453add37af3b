"""The ModelVersion controller's decisions about a version's source and its storage errors
(issue 13): a source outside the rule of mlkube.sources ends FailedRegistration before anything is
read; every storage error ends it too (final answers at once, transient ones after bounded
retries); a failed registration leaves no partial copy in the registry.

The reconciler runs against the fake Kubernetes adapter and in-memory object storage; only the
object store's answers are scripted, where a test needs it to fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.unit.controllers.fakes import FakeKube, context, indexes, record_events

from mlkube.objects import MemoryObjects, ObjectInfo, ObjectStoreError, ObjectStoreRefused
from mlkube.sources import PREFIX_RULE, SPELLING_RULE
from mlkube_operator.controllers import model_version as controller
from mlkube_operator.controllers.context import SettingsError
from mlkube_operator.controllers.model_version import ModelVersionReconciler
from mlkube_operator.settings import Settings

MLMODEL = b"flavors:\n  sklearn: {pickled_model: model.pkl}\n"
SETTINGS = Settings(
    s3_access_key="a",
    s3_secret_key="s",
    s3_bucket="mlkube",
    registry_source_allowlist=["s3://shared/models/"],
)


class FlakyObjects(MemoryObjects):
    """Memory objects whose listings fail with ``errors``, one per listing, then work."""

    def __init__(self, bucket: str, errors: list[ObjectStoreError], **kwargs: Any) -> None:
        super().__init__(bucket, **kwargs)
        self.errors = errors

    def list_all(self, prefix: str) -> list[ObjectInfo]:
        if self.errors:
            raise self.errors.pop(0)
        return super().list_all(prefix)

    def in_bucket(self, bucket: str) -> MemoryObjects:
        """Every bucket of the endpoint fails alike (the errors are shared)."""
        if bucket not in self._buckets:
            FlakyObjects(bucket, self.errors, _buckets=self._buckets)
        return self._buckets[bucket]


@pytest.fixture(autouse=True)
def events(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str, str]]]:
    """kopf.event posts through the running operator; here it is recorded."""
    return record_events(monkeypatch, controller)


def a_model(objects: MemoryObjects, bucket: str, prefix: str) -> None:
    """An MLflow model directory (MLmodel + model.pkl) at ``s3://<bucket>/<prefix>``."""
    store = objects.in_bucket(bucket)
    store.put(f"{prefix}/MLmodel", MLMODEL)
    store.put(f"{prefix}/model.pkl", b"\x80\x04pickled")


def register(source: str, objects: MemoryObjects) -> tuple[dict[str, Any], FakeKube, list[float]]:
    """Reconcile a new ModelVersion of iris in namespace ml with ``source``; returns its status,
    the fake adapter and the pauses between storage attempts."""
    fake = FakeKube()
    fake.objects["registeredmodels", "ml", "iris"] = {
        "metadata": {"name": "iris", "namespace": "ml", "resourceVersion": "1"},
        "spec": {},
    }
    fake.objects["modelversions", "ml", "iris-1"] = {
        "metadata": {
            "name": "iris-1",
            "namespace": "ml",
            "uid": "u-1",
            "generation": 1,
            "resourceVersion": "1",
            "labels": {"mlkube.io/model": "iris"},
        },
        "spec": {"model": "iris", "source": source},
    }
    pauses: list[float] = []
    reconciler = ModelVersionReconciler(context(fake, SETTINGS), objects, pauses.append)
    reconciler.reconcile(indexes(), "ml", "iris-1")
    return fake.objects["modelversions", "ml", "iris-1"]["status"], fake, pauses


def registry_keys(objects: MemoryObjects) -> list[str]:
    return [o.key for o in objects.in_bucket("mlkube").list_all("ml/models/")]


def ready(status: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == "Ready")


@pytest.mark.parametrize(
    ("source", "rule", "detail"),
    [
        ("s3://mlkube/other/model", PREFIX_RULE, "outside namespace ml's prefix s3://mlkube/ml/"),
        ("s3://mlkube/mlx/model", PREFIX_RULE, "outside namespace ml's prefix s3://mlkube/ml/"),
        ("s3://elsewhere/ml/model", PREFIX_RULE, "is in bucket elsewhere"),
        ("s3://shared/private/model", PREFIX_RULE, "is in bucket shared"),
        ("s3://MLKUBE/ml/model", SPELLING_RULE, "not an S3 bucket name"),
        ("s3://mlkube:9000/ml/model", SPELLING_RULE, "a port is not allowed"),
        ("s3://x@mlkube/ml/model", SPELLING_RULE, "user information"),
        ("s3://mlkube/ml/%2e%2e/other/model", SPELLING_RULE, "%-escapes"),
        ("s3://mlkube/ml/../other/model", SPELLING_RULE, "'..'"),
        ("s3://mlkube/ml//model", SPELLING_RULE, "empty segments"),
    ],
)
def test_a_source_outside_the_rule_fails_registration_and_nothing_is_copied(
    source: str, rule: str, detail: str, events: list[tuple[str, str, str]]
) -> None:
    objects = MemoryObjects("mlkube")
    for bucket in ("mlkube", "elsewhere", "shared"):
        for prefix in ("other/model", "mlx/model", "ml/model", "private/model"):
            a_model(objects, bucket, prefix)
    status, _, pauses = register(source, objects)
    assert status["phase"] == "FailedRegistration"
    assert rule in status["message"], status["message"]
    assert detail in status["message"], status["message"]
    assert ready(status)["status"] == "False"
    assert ready(status)["reason"] == "SourceRefused"
    assert ready(status)["message"] == status["message"]
    assert events == [("Warning", "SourceRefused", status["message"])]
    assert registry_keys(objects) == []
    assert pauses == []


@pytest.mark.parametrize("source", ["s3://mlkube/ml/model", "s3://shared/models/iris/"])
def test_a_source_in_the_namespace_or_the_allowlist_is_copied(source: str) -> None:
    objects = MemoryObjects("mlkube")
    a_model(objects, "mlkube", "ml/model")
    a_model(objects, "shared", "models/iris")
    status, _, _ = register(source, objects)
    assert status["phase"] == "Ready", status
    assert status["storageUri"] == "s3://mlkube/ml/models/iris/1"
    assert registry_keys(objects) == ["ml/models/iris/1/MLmodel", "ml/models/iris/1/model.pkl"]


def test_a_final_storage_answer_fails_registration_at_once(
    events: list[tuple[str, str, str]],
) -> None:
    denied = ObjectStoreRefused("object storage: S3 operation failed; code: NoSuchBucket")
    objects = FlakyObjects("mlkube", [denied])
    status, _, pauses = register("s3://shared/models/iris", objects)
    assert status["phase"] == "FailedRegistration"
    assert status["message"] == (
        "object storage refused the copy of s3://shared/models/iris: object storage: S3 "
        "operation failed; code: NoSuchBucket (a final answer, not retried; fix the source or "
        "the store's permissions and register again)"
    )
    assert ready(status)["reason"] == "StorageError"
    assert events == [("Warning", "StorageError", status["message"])]
    assert pauses == []


def test_a_transient_storage_error_is_retried_a_bounded_number_of_times() -> None:
    down = [ObjectStoreError(f"object storage: connection refused ({i})") for i in range(5)]
    objects = FlakyObjects("mlkube", down)
    a_model(objects, "mlkube", "ml/model")
    status, _, pauses = register("s3://mlkube/ml/model", objects)
    assert status["phase"] == "FailedRegistration"
    assert status["message"] == (
        "object storage failed the copy of s3://mlkube/ml/model 3 times, the last with: object "
        "storage: connection refused (2) (a transient error, retried 2 times over 6 s; register "
        "again once the store answers)"
    )
    assert ready(status)["reason"] == "StorageError"
    assert pauses == [2.0, 4.0]


def test_a_store_that_answers_again_within_the_bound_completes_the_registration() -> None:
    objects = FlakyObjects("mlkube", [ObjectStoreError("object storage: timed out")])
    a_model(objects, "mlkube", "ml/model")
    status, _, pauses = register("s3://mlkube/ml/model", objects)
    assert status["phase"] == "Ready", status
    assert pauses == [2.0]


def test_a_failed_registration_leaves_no_partial_copy() -> None:
    objects = MemoryObjects("mlkube")
    objects.put("ml/notes/readme.txt", b"no model here")
    status, _, _ = register("s3://mlkube/ml/notes", objects)
    assert status["phase"] == "FailedRegistration"
    assert status["message"].startswith("no MLmodel file at s3://mlkube/ml/notes")
    assert registry_keys(objects) == []


def test_an_allowlist_entry_that_is_no_prefix_stops_the_operator_at_start() -> None:
    bad = Settings(s3_bucket="mlkube", registry_source_allowlist=["s3://mlkube/"])
    with pytest.raises(SettingsError, match="holds every namespace's data"):
        ModelVersionReconciler(context(FakeKube(), bad))
    assert Settings.from_env(
        {"MLKUBE_REGISTRY_SOURCE_ALLOWLIST": " s3://a/x/, ,s3://b/ "}
    ).registry_source_allowlist == ["s3://a/x/", "s3://b/"]
