"""The Kubernetes registry store's pure parts: resource names, resource <-> entity conversion
and the watch-fed cache's ordering rules (no cluster)."""

from __future__ import annotations

import re
from typing import Any

from mlkube import layout
from mlkube.api.errors import parse
from mlkube.api.kinds import MODEL_VERSION, REGISTERED_MODEL
from mlkube.api.model_version import ModelVersion as VersionResource
from mlkube.api.registered_model import RegisteredModel as ModelResource
from mlkube_operator.server.store.registry.entities import NewVersion, Stage, VersionStatus
from mlkube_operator.server.store.registry.kube import convert, names
from mlkube_operator.server.store.registry.kube.cache import RegistryCache

LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
RUN = "0123456789abcdef0123456789abcdef"


def model_obj(name: str, rv: int, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "mlkube.io/v1alpha1",
        "kind": "RegisteredModel",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"uid-{name}",
            "resourceVersion": str(rv),
        },
        "spec": spec,
    }


def version_obj(name: str, model: str, rv: int, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "mlkube.io/v1alpha1",
        "kind": "ModelVersion",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"uid-{name}",
            "resourceVersion": str(rv),
        },
        "spec": {"model": model, "source": f"runs:/{RUN}/model"},
        "status": status,
    }


def test_resource_names_are_valid_stable_and_distinct() -> None:
    assert names.model_resource_name("iris") == "iris"
    churn = names.model_resource_name("Churn Model (v2)")
    assert churn.startswith("churn-model-v2-")
    assert churn == names.model_resource_name("Churn Model (v2)")
    assert churn != names.model_resource_name("churn model v2")
    for name in ("Iris", "a" * 60, "ünïcödé", "---", "x.y", "Ω" * 500):
        resource = names.model_resource_name(name)
        assert LABEL.fullmatch(resource), resource
        assert len(resource) <= names.MAX_MODEL_RESOURCE
        other = names.other_model_resource_name(name)
        assert LABEL.fullmatch(other)
        assert len(other) <= names.MAX_MODEL_RESOURCE
        assert other != resource
        version = names.version_resource_name(resource)
        assert LABEL.fullmatch(version)
        assert len(version) <= 63


def test_new_objects_carry_the_mlflow_view() -> None:
    body = convert.model_body("churn-1a2b", "Churn", "d", {"k": "v"}, 1700000000000)
    model = parse(ModelResource, body)
    assert convert.model_name(model) == "Churn"
    assert convert.model_body("iris", "iris", "", {}, 1)["spec"].get("displayName") is None
    new = NewVersion(
        source=f"mlflow-artifacts:/1/{RUN}/artifacts/model",
        storage_source=f"runs:/{RUN}/model",
        run_id=RUN,
        model_id="m-" + "b" * 32,
        run_link="http://ui/run",
        description="first",
        tags={"t": "1"},
    )
    version_body = convert.version_body("churn-1a2b-0011223344", "churn-1a2b", new, 1700000000001)
    assert version_body["metadata"]["labels"] == {layout.MODEL_LABEL: "churn-1a2b"}
    resource = parse(VersionResource, version_body)
    entity = convert.version_entity(resource, 1, model)
    assert entity.name == "Churn"
    assert (entity.version, entity.current_stage) == (1, Stage.NONE)
    assert entity.status is VersionStatus.PENDING_REGISTRATION
    assert entity.source == new.source
    assert entity.storage_source == new.storage_source
    assert (entity.run_id, entity.model_id, entity.run_link) == (RUN, new.model_id, new.run_link)
    assert (entity.creation_timestamp, entity.last_updated_timestamp) == (1700000000001,) * 2


def test_phases_map_to_mlflow_statuses() -> None:
    model = parse(ModelResource, model_obj("m", 1, aliases={"champion": 2}))
    for phase, status in [
        (None, VersionStatus.PENDING_REGISTRATION),
        ("PendingRegistration", VersionStatus.PENDING_REGISTRATION),
        ("Ready", VersionStatus.READY),
        ("FailedRegistration", VersionStatus.FAILED_REGISTRATION),
    ]:
        obj = version_obj(
            "m-x", "m", 2, version=2, phase=phase, message="why", storageUri="s3://b/k"
        )
        entity = convert.version_entity(parse(VersionResource, obj), 2, model)
        assert entity.status is status
        assert entity.aliases == ("champion",)
        assert entity.status_message == "why"
        assert entity.storage_location == ("s3://b/k" if phase == "Ready" else None)


def test_a_version_is_numbered_by_its_status_or_its_models_claims() -> None:
    model = parse(ModelResource, {**model_obj("m", 1), "status": {"versionClaims": {"uid-v": 4}}})
    claimed = parse(VersionResource, version_obj("v", "m", 2))
    assert convert.version_number(claimed, model) == 4
    written = parse(VersionResource, version_obj("v", "m", 3, version=5))
    assert convert.version_number(written, model) == 5
    unclaimed = parse(VersionResource, version_obj("w", "m", 2))
    assert convert.version_number(unclaimed, model) is None


def test_the_cache_keeps_the_newest_copy_and_forgets_deleted_objects() -> None:
    cache = RegistryCache()
    cache.put(REGISTERED_MODEL, model_obj("m", 5, description="new"))
    cache.upsert(REGISTERED_MODEL, model_obj("m", 4, description="old"))  # a late event
    record = cache.model("ns", "m")
    assert record is not None
    assert record.resource.spec.description == "new"
    cache.put(MODEL_VERSION, version_obj("v", "m", 6))
    assert [r.resource.metadata.name for r in cache.versions_of("ns", "m")] == ["v"]
    cache.forget(MODEL_VERSION, "ns", "v")
    cache.upsert(MODEL_VERSION, version_obj("v", "m", 7))  # an event from before the delete
    assert cache.versions_of("ns", "m") == []
    deleting = model_obj("m", 8)
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    cache.upsert(REGISTERED_MODEL, deleting)  # held by a finalizer: gone for MLflow already
    assert cache.model("ns", "m") is None
    cache.upsert(REGISTERED_MODEL, model_obj("m", 9))
    assert cache.model("ns", "m") is None


def test_the_cache_finds_models_by_mlflow_name_and_drops_stale_ones_on_relist() -> None:
    cache = RegistryCache()
    cache.put(REGISTERED_MODEL, model_obj("iris", 1))
    cache.put(REGISTERED_MODEL, model_obj("iris-0123456789", 2, displayName="Iris"))
    cache.put(REGISTERED_MODEL, model_obj("renamed", 3, displayName="iris2"))
    found = cache.model_named("ns", "Iris")
    assert found is not None
    assert found.resource.metadata.name == "iris-0123456789"
    assert cache.model_named("ns", "renamed") is None  # its MLflow name is iris2
    found = cache.model_named("ns", "iris2")
    assert found is not None
    assert found.resource.metadata.name == "renamed"
    cache.replace(REGISTERED_MODEL, [model_obj("iris", 4)], None)
    assert [r.resource.metadata.name for r in cache.models("ns")] == ["iris"]
    cache.put(REGISTERED_MODEL, {**model_obj("bad", 5), "spec": {"aliases": {"has space": 1}}})
    assert cache.model("ns", "bad") is None  # invalid objects are skipped, not fatal


def test_a_late_delete_of_an_old_object_keeps_the_new_one() -> None:
    """The shared cache's version guard (store/shared/cache.py) serves the registry cache too."""
    cache = RegistryCache()
    old = {**model_obj("m", 3), "metadata": {**model_obj("m", 3)["metadata"], "uid": "old"}}
    new = {**model_obj("m", 9), "metadata": {**model_obj("m", 9)["metadata"], "uid": "new"}}
    cache.put(REGISTERED_MODEL, new)  # recreated under the same name, seen first
    cache.remove(REGISTERED_MODEL, old)  # the delete event of the earlier object, late
    record = cache.model("ns", "m")
    assert record is not None
    assert record.resource.metadata.uid == "new"
