"""A replica asked about an experiment or run its watch has not brought yet (issue 17's soak:
created through one server replica, the client's next call reached the other at once) reads
it from the API server instead of answering 404, and then logs to it."""

from __future__ import annotations

import pytest
from tests.unit.tracking.api_objects import ApiObjects

from mlkube import layout
from mlkube.objects import MemoryObjects
from mlkube_operator.server.entities import Metric
from mlkube_operator.server.errors import MlflowError
from mlkube_operator.server.store.tracking.kube.store import KubeStore

RUN_ID = "ef" * 16


def other_replicas_objects() -> ApiObjects:
    """The API server holding what another replica just made; this replica's watch is not
    started, so only reads on a miss can find them."""
    return ApiObjects(
        {
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
    )


@pytest.fixture
def replica() -> tuple[KubeStore, ApiObjects]:
    api = other_replicas_objects()
    return KubeStore(api, MemoryObjects(), "default"), api  # type: ignore[arg-type]


def test_an_experiment_numbered_elsewhere_is_found(
    replica: tuple[KubeStore, ApiObjects],
) -> None:
    store, api = replica
    assert store.get_experiment("ns", "7").name == "churn"
    assert api.reads == ["list experiments"]
    store.get_experiment("ns", "7")
    assert api.reads == ["list experiments"]  # cached now


def test_a_run_created_elsewhere_is_found_and_logged_to(
    replica: tuple[KubeStore, ApiObjects],
) -> None:
    store, api = replica
    assert store.get_run("ns", RUN_ID).info.run_name == "fresh"
    store.log_batch("ns", RUN_ID, [Metric("loss", 0.5, 1, 0)], {"alpha": "1"}, {})
    assert api.objects["runs", RUN_ID]["status"]["params"] == {"alpha": "1"}
    assert [m.value for m in store.get_metric_history("ns", RUN_ID, "loss")] == [0.5]


def test_ids_that_exist_nowhere_are_still_404_and_malformed_ones_cost_no_read(
    replica: tuple[KubeStore, ApiObjects],
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
