"""A Sweep's parent run is the operator's to start and end (the sweep controller writes its phase
and times, docs/sweeps.md): the stock client's set_terminated on it renames nothing and ends
nothing, as for a project Run, while a client-made run still ends when its client says so."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.tracking.api_objects import ApiObjects

from mlkube import layout
from mlkube.objects import MemoryObjects
from mlkube_operator.server.entities import RunStatus
from mlkube_operator.server.store.tracking.kube.store import KubeStore

PARENT, PLAIN = "ab" * 16, "cd" * 16
Obj = dict[str, Any]


def run(run_id: str, labels: dict[str, str]) -> Obj:
    return {
        "metadata": {"name": run_id, "namespace": "ns", "resourceVersion": "6", "labels": labels},
        "spec": {"experiment": "wine", "runName": "sweep"},
        "status": {
            "runId": run_id,
            "phase": "Running",
            "startTime": "2026-01-01T00:00:00Z",
            "lifecycleStage": "active",
        },
    }


def api_objects() -> ApiObjects:
    return ApiObjects(
        {
            ("experiments", "wine"): {
                "metadata": {"name": "wine", "namespace": "ns", "resourceVersion": "5"},
                "spec": {},
                "status": {"experimentId": "7", "lifecycleStage": "active"},
            },
            ("runs", PARENT): run(PARENT, {layout.SWEEP_PARENT_LABEL: "sweep"}),
            ("runs", PLAIN): run(PLAIN, {layout.RUN_ID_LABEL: PLAIN}),
        }
    )


@pytest.fixture
def store() -> tuple[KubeStore, ApiObjects]:
    api = api_objects()
    return KubeStore(api, MemoryObjects(), "default"), api  # type: ignore[arg-type]


def test_ending_a_sweeps_parent_run_leaves_its_phase_and_times_to_the_operator(
    store: tuple[KubeStore, ApiObjects],
) -> None:
    kube, api = store
    kube.update_run("ns", PARENT, RunStatus.FINISHED, 1_800_000_000_000, "renamed")
    status = api.objects["runs", PARENT]["status"]
    assert status["phase"] == "Running"
    assert "endTime" not in status
    assert status["tags"]["mlflow.runName"] == "renamed"  # tags are still the server's


def test_a_client_made_run_still_ends_when_its_client_says_so(
    store: tuple[KubeStore, ApiObjects],
) -> None:
    kube, api = store
    kube.update_run("ns", PLAIN, RunStatus.FINISHED, 1_800_000_000_000, None)
    status = api.objects["runs", PLAIN]["status"]
    assert status["phase"] == "Succeeded"
    assert status["endTime"]
