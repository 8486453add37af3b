"""A replica asked about an experiment or run its watch has not brought yet (issue 17's soak:
created through one server replica, the client's next call reached the other at once) reads
it from the API server instead of answering 404, and then logs to it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mlkube import layout
from mlkube.api.kinds import Kind
from mlkube.objects import MemoryObjects
from mlkube_operator.kube import NotFound
from mlkube_operator.server.entities import Metric
from mlkube_operator.server.errors import MlflowError
from mlkube_operator.server.store.tracking.kube.store import KubeStore

RUN_ID = "ef" * 16
Obj = dict[str, Any]


class OtherReplicasObjects:
    """The API server holding what another replica just made; this replica's watch is not
    started, so only reads on a miss can find them."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], Obj] = {
            ("experiments", "churn"): {
                "metadata": {"name": "churn", "namespace": "ns", "resourceVersion": "5"},
                "spec": {},
                "status": {"experimentId": "7", "lifecycleStage": "active"},
            },
            ("runs", RUN_ID): {
                "metadata": {
                    "name": RUN_ID,
                    "namespace": "ns",
                    "resourceVersion": "6",
                    "labels": {layout.EXPERIMENT_ID_LABEL: "7", layout.RUN_ID_LABEL: RUN_ID},
                },
                "spec": {"experiment": "churn", "runName": "fresh"},
                "status": {"runId": RUN_ID, "phase": "Running", "lifecycleStage": "active"},
            },
        }
        self.reads: list[str] = []

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        self.reads.append(f"get {kind.plural}/{name}")
        try:
            return copy.deepcopy(self.objects[kind.plural, name])
        except KeyError:
            raise NotFound(404, "NotFound") from None

    def list(self, kind: Kind, namespace: str | None = None, selector: str | None = None) -> Any:
        self.reads.append(f"list {kind.plural}")
        found = [
            copy.deepcopy(o) for (plural, _), o in self.objects.items() if plural == kind.plural
        ]
        return found, "9"

    def patch(self, kind: Kind, namespace: str, name: str, body: Obj, status: bool) -> Obj:
        obj = self.objects[kind.plural, name]
        for section, values in body["status"].items():
            if isinstance(values, dict):
                obj["status"].setdefault(section, {}).update(values)
            else:
                obj["status"][section] = values
        obj["metadata"]["resourceVersion"] = str(int(obj["metadata"]["resourceVersion"]) + 1)
        return copy.deepcopy(obj)


@pytest.fixture
def replica() -> tuple[KubeStore, OtherReplicasObjects]:
    api = OtherReplicasObjects()
    return KubeStore(api, MemoryObjects(), "default"), api  # type: ignore[arg-type]


def test_an_experiment_numbered_elsewhere_is_found(
    replica: tuple[KubeStore, OtherReplicasObjects],
) -> None:
    store, api = replica
    assert store.get_experiment("ns", "7").name == "churn"
    assert api.reads == ["list experiments"]
    store.get_experiment("ns", "7")
    assert api.reads == ["list experiments"]  # cached now


def test_a_run_created_elsewhere_is_found_and_logged_to(
    replica: tuple[KubeStore, OtherReplicasObjects],
) -> None:
    store, api = replica
    assert store.get_run("ns", RUN_ID).info.run_name == "fresh"
    store.log_batch("ns", RUN_ID, [Metric("loss", 0.5, 1, 0)], {"alpha": "1"}, {})
    assert api.objects["runs", RUN_ID]["status"]["params"] == {"alpha": "1"}
    assert [m.value for m in store.get_metric_history("ns", RUN_ID, "loss")] == [0.5]


def test_ids_that_exist_nowhere_are_still_404_and_malformed_ones_cost_no_read(
    replica: tuple[KubeStore, OtherReplicasObjects],
) -> None:
    store, api = replica
    for missing in (lambda: store.get_run("ns", "0" * 32), lambda: store.get_experiment("ns", "8")):
        with pytest.raises(MlflowError) as raised:
            missing()
        assert raised.value.http_status == 404
    api.reads.clear()
    for malformed in (lambda: store.get_run("ns", "nope"), lambda: store.get_experiment("ns", "x")):
        with pytest.raises(MlflowError):
            malformed()
    assert api.reads == []
