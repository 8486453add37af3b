"""A replica asked about a model or version its watch has not brought yet (made through another
replica a moment before; issue 17's soak found the same for runs) reads it from the API server
instead of answering 404; a name or number that exists nowhere stays a 404."""

from __future__ import annotations

import copy
from typing import Any, cast

import pytest

from mlkube import layout
from mlkube.api.kinds import MODEL_VERSION, REGISTERED_MODEL, Kind
from mlkube_operator.kube import KubeClient, NotFound
from mlkube_operator.server.errors import MlflowError
from mlkube_operator.server.store.registry.entities import NewVersion
from mlkube_operator.server.store.registry.kube.store import KubeRegistryStore

RUN = "0123456789abcdef0123456789abcdef"
Obj = dict[str, Any]


def model_obj(claims: dict[str, int], rv: str) -> Obj:
    return {
        "apiVersion": "mlkube.io/v1alpha1",
        "kind": "RegisteredModel",
        "metadata": {"name": "churn", "namespace": "ns", "uid": "uid-churn", "resourceVersion": rv},
        "spec": {},
        "status": {"versionClaims": claims, "latestVersion": max(claims.values(), default=0)},
    }


def version_obj(number: int) -> Obj:
    return {
        "apiVersion": "mlkube.io/v1alpha1",
        "kind": "ModelVersion",
        "metadata": {
            "name": f"churn-{number:010x}",
            "namespace": "ns",
            "uid": f"uid-v{number}",
            "resourceVersion": str(10 + number),
            "labels": {layout.MODEL_LABEL: "churn"},
        },
        "spec": {"model": "churn", "source": f"runs:/{RUN}/model"},
        "status": {"version": number, "phase": "Ready"},
    }


class OtherReplicasObjects:
    """The API server holding what another replica just made (this replica's informers are
    never started): the model with versions 1 and 2 claimed."""

    def __init__(self) -> None:
        self.objects: dict[str, list[Obj]] = {
            "registeredmodels": [model_obj({"uid-v1": 1, "uid-v2": 2}, "30")],
            "modelversions": [version_obj(1), version_obj(2)],
        }
        self.reads: list[str] = []

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        self.reads.append(f"get {kind.plural}/{name}")
        for obj in self.objects[kind.plural]:
            if obj["metadata"]["name"] == name:
                return copy.deepcopy(obj)
        raise NotFound(404, "NotFound")

    def list(self, kind: Kind, namespace: str | None = None, selector: str | None = None) -> Any:
        self.reads.append(f"list {kind.plural} {selector}")
        return copy.deepcopy(self.objects[kind.plural]), "40"


@pytest.fixture
def api() -> OtherReplicasObjects:
    return OtherReplicasObjects()


def test_a_model_made_elsewhere_is_found(api: OtherReplicasObjects) -> None:
    store = KubeRegistryStore(cast(KubeClient, api))
    assert store.get_registered_model("ns", "churn").name == "churn"
    assert api.reads == ["get registeredmodels/churn"]


def test_a_version_numbered_elsewhere_is_found(api: OtherReplicasObjects) -> None:
    store = KubeRegistryStore(cast(KubeClient, api))
    # The watch brought the model and version 1, not yet version 2 nor its claim.
    store.cache.put(REGISTERED_MODEL, model_obj({"uid-v1": 1}, "20"))
    store.cache.put(MODEL_VERSION, version_obj(1))
    assert store.get_model_version("ns", "churn", 2).version == 2
    assert api.reads == ["get registeredmodels/churn", "list modelversions mlkube.io/model=churn"]
    api.reads.clear()
    assert store.get_model_version("ns", "churn", 2).version == 2
    assert api.reads == []  # cached now


def test_what_exists_nowhere_is_still_404_and_costs_no_list(api: OtherReplicasObjects) -> None:
    store = KubeRegistryStore(cast(KubeClient, api))
    with pytest.raises(MlflowError) as raised:
        store.get_registered_model("ns", "nope")
    assert raised.value.http_status == 404
    api.reads.clear()
    with pytest.raises(MlflowError) as raised:
        store.get_model_version("ns", "churn", 3)  # never claimed
    assert raised.value.http_status == 404
    assert all(not read.startswith("list") for read in api.reads)


class FastOperator(OtherReplicasObjects):
    """Creates and patches as the API server does, while the operator fails the new version's
    registration at once and the store's watch delivers that before the create answers."""

    def __init__(self, store: list[KubeRegistryStore]) -> None:
        super().__init__()
        self.store = store
        self.objects["registeredmodels"] = [model_obj({}, "30")]
        self.objects["modelversions"] = []

    def create(self, kind: Kind, namespace: str, body: Obj) -> Obj:
        obj = copy.deepcopy(body)
        obj["metadata"].update(namespace=namespace, uid="uid-new", resourceVersion="50")
        self.objects[kind.plural].append(obj)
        return copy.deepcopy(obj)

    def patch(self, kind: Kind, namespace: str, name: str, patch: Obj, *, status: bool) -> Obj:
        [obj] = [o for o in self.objects[kind.plural] if o["metadata"]["name"] == name]
        obj.setdefault("status", {}).update(patch.get("status") or {})
        obj["metadata"]["resourceVersion"] = str(int(obj["metadata"]["resourceVersion"]) + 1)
        if kind.plural == "modelversions":  # the operator, then the watch, before the answer
            failed = copy.deepcopy(obj)
            failed["status"].update(phase="FailedRegistration", message="no MLmodel file")
            failed["metadata"]["resourceVersion"] = "99"
            self.store[0].cache.put(MODEL_VERSION, failed)
        return copy.deepcopy(obj)


def test_a_create_answers_the_version_it_made_even_if_it_settled_since() -> None:
    holder: list[KubeRegistryStore] = []
    api = FastOperator(holder)
    store = KubeRegistryStore(cast(KubeClient, api))
    holder.append(store)
    made = store.create_model_version(
        "ns", "churn", NewVersion(f"runs:/{RUN}/notes", "s3://mlkube/notes", RUN)
    )
    assert (made.version, made.status.value) == (1, "PENDING_REGISTRATION")
    assert store.get_model_version("ns", "churn", 1).status.value == "FAILED_REGISTRATION"
