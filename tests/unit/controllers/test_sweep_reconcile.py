"""The sweep controller against a faked API server and indexes: it makes the parent run, then
the trials the plan names (a create answered AlreadyExists is success, so a restart duplicates
nothing), writes the status once, ends the parent run with the sweep, and early stopping
suspends a poor running trial with the pruned mark in one patch."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.controllers.fakes import FakeKube, context, record_events

from mlkube import layout
from mlkube.metric_chunks import encode_rows
from mlkube.objects import MemoryObjects
from mlkube_operator.controllers import sweep as controller
from mlkube_operator.controllers.run import RunReconciler
from mlkube_operator.controllers.sweep import SweepReconciler

SWEEP_UID = "00112233-4455-6677-8899-aabbccddeeff"
PARENT_UID = "99999999-0000-0000-0000-000000000001"
PARENT_ID = PARENT_UID.replace("-", "")
Obj = dict[str, Any]


def sweep_obj(**spec: Any) -> Obj:
    return {
        "apiVersion": "mlkube.io/v1alpha1",
        "kind": "Sweep",
        "metadata": {"name": "s", "namespace": "ns", "uid": SWEEP_UID, "generation": 1},
        "spec": {
            "template": {
                "experiment": "wine",
                "project": {"path": "/p"},
                "parameters": {"epochs": "3"},
            },
            "searchSpace": {"alpha": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.5}},
            "algorithm": "grid",
            "objective": {"metric": "rmse", "direction": "minimize"},
            "parallelism": 2,
            "maxRuns": 3,
            **spec,
        },
    }


def parent() -> Obj:
    return {
        "metadata": {
            "name": "s",
            "namespace": "ns",
            "uid": PARENT_UID,
            "ownerReferences": [{"uid": SWEEP_UID}],
        },
        "spec": {"experiment": "wine"},
        "status": {},
    }


def trial(index: int, phase: str | None, rmse: float | None = None, **extra: Any) -> Obj:
    status: Obj = {"phase": phase, "runId": f"{index + 1:032x}"}
    if rmse is not None:
        status["metrics"] = {"rmse": {"value": rmse, "timestamp": 1, "step": 2}}
    return {
        "metadata": {
            "name": f"s-t{index}",
            "namespace": "ns",
            "labels": {layout.SWEEP_LABEL: "s", layout.TRIAL_LABEL: str(index)},
        },
        "spec": {"parameters": {"alpha": str(index * 0.5), "epochs": "3"}, **extra},
        "status": status,
    }


def handler_kwargs(sweep: Obj, trials: list[Obj], parent_run: Obj | None) -> dict[str, Any]:
    """The indexes as Kopf hands them to a handler."""
    return {
        "sweeps": {("ns", "s"): [sweep]},
        "sweep_trials": {("ns", "s"): trials} if trials else {},
        "sweep_parents": {("ns", "s"): [parent_run]} if parent_run else {},
        "project_runs": {},
        "experiments": {("ns", "wine"): [{"experimentId": "4", "artifactLocation": None}]},
        "run_jobs": {},
        "run_pods": {},
        "registered_models": {},
        "versions_by_model": {},
    }


@pytest.fixture(autouse=True)
def events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """kopf.event posts through the running operator; here it is recorded."""
    return record_events(monkeypatch, controller)


def reconciler(fake: FakeKube, objects: MemoryObjects | None = None) -> SweepReconciler:
    ctx = context(fake, objects=objects)
    return SweepReconciler(ctx, RunReconciler(ctx))


def stored(fake: FakeKube, plural: str, name: str) -> Obj:
    return fake.objects[plural, "ns", name]


def test_a_new_sweep_gets_its_parent_run_then_parallelism_trials_nested_under_it(
    events: list[tuple[str, str, str]],
) -> None:
    fake = FakeKube()
    sweep = sweep_obj()
    fake.objects["sweeps", "ns", "s"] = sweep
    fake.objects["runs", "ns", "s"] = parent()  # made a moment ago; the index lags
    reconciler(fake).reconcile(handler_kwargs(sweep, [], None), "ns", "s")
    created = [c[3] for c in fake.calls if c[:2] == ("create", "runs")]
    assert created == ["s", "s-t0", "s-t1"]
    first = stored(fake, "runs", "s-t0")
    assert first["spec"]["parameters"] == {"epochs": "3", "alpha": "0.0"}
    assert first["spec"]["tags"] == {"mlflow.parentRunId": PARENT_ID}
    assert first["metadata"]["labels"][layout.TRIAL_LABEL] == "0"
    owner = first["metadata"]["ownerReferences"][0]
    assert (owner["uid"], owner["controller"], owner["blockOwnerDeletion"]) == (
        SWEEP_UID,
        True,
        True,
    )
    status = stored(fake, "sweeps", "s")["status"]
    assert (status["phase"], status["parentRunId"], status["progress"]) == (
        "Running",
        PARENT_ID,
        "0/3",
    )
    lifecycle = stored(fake, "runs", "s")["status"]
    assert lifecycle["runId"] == PARENT_ID
    assert lifecycle["phase"] == "Running"
    assert lifecycle["artifactUri"].endswith(f"/4/{PARENT_ID}/artifacts")
    assert [e[1] for e in events] == ["TrialCreated", "TrialCreated"]


def test_a_trial_that_exists_already_is_not_made_again() -> None:
    """After a restart the index may not show a trial yet: its create answers 409, and no
    other trial is made in its place."""
    fake = FakeKube()
    sweep = sweep_obj()
    fake.objects["sweeps", "ns", "s"] = sweep
    fake.objects["runs", "ns", "s-t1"] = trial(1, None)
    reconciler(fake).reconcile(handler_kwargs(sweep, [trial(0, "Running")], parent()), "ns", "s")
    assert [c[3] for c in fake.calls if c[:2] == ("create", "runs")] == ["s-t1"]
    assert stored(fake, "runs", "s-t1")["spec"]["parameters"]["alpha"] == "0.5"  # kept


def test_the_sweep_succeeds_with_the_best_trial_and_ends_its_parent_run_once(
    events: list[tuple[str, str, str]],
) -> None:
    fake = FakeKube()
    sweep = sweep_obj()
    fake.objects["sweeps", "ns", "s"] = sweep
    fake.objects["runs", "ns", "s"] = parent()
    trials = [trial(0, "Succeeded", 3.0), trial(1, "Succeeded", 1.5), trial(2, "Failed")]
    reconciler(fake).reconcile(handler_kwargs(sweep, trials, parent()), "ns", "s")
    status = stored(fake, "sweeps", "s")["status"]
    assert status["phase"] == "Succeeded"
    assert status["best"]["run"] == "s-t1"
    assert status["best"]["value"] == 1.5
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Ready": "True",
        "Complete": "True",
    }
    assert stored(fake, "runs", "s")["status"]["phase"] == "Succeeded"
    assert stored(fake, "runs", "s")["status"]["endTime"]
    assert ("Normal", "SweepSucceeded") in [e[:2] for e in events]
    # Again, with the objects as written: nothing to write.
    fake.calls.clear()
    written = stored(fake, "sweeps", "s")
    kwargs = handler_kwargs(written, trials, stored(fake, "runs", "s"))
    reconciler(fake).reconcile(kwargs, "ns", "s")
    assert [c for c in fake.calls if c[0] != "get"] == []


def test_too_many_failures_fail_the_sweep_and_stop_its_running_trials() -> None:
    fake = FakeKube()
    sweep = sweep_obj(maxFailedRuns=0, maxRuns=3)
    fake.objects["sweeps", "ns", "s"] = sweep
    fake.objects["runs", "ns", "s-t1"] = trial(1, "Running")
    trials = [trial(0, "Failed"), trial(1, "Running")]
    reconciler(fake).reconcile(handler_kwargs(sweep, trials, parent()), "ns", "s")
    status = stored(fake, "sweeps", "s")["status"]
    assert status["phase"] == "Failed"
    assert "more than maxFailedRuns (0)" in status["message"]
    assert ("patch", "runs", "ns", "s-t1") in fake.calls
    assert not [c for c in fake.calls if c[:2] == ("create", "runs")]


def test_a_suspended_sweep_stops_its_running_trials_once_and_resumes_with_new_ones(
    events: list[tuple[str, str, str]],
) -> None:
    fake = FakeKube()
    sweep = sweep_obj(suspend=True)
    fake.objects["sweeps", "ns", "s"] = sweep
    fake.objects["runs", "ns", "s"] = parent()
    fake.objects["runs", "ns", "s-t0"] = trial(0, "Running")
    reconciler(fake).reconcile(handler_kwargs(sweep, [trial(0, "Running")], parent()), "ns", "s")
    assert ("patch", "runs", "ns", "s-t0") in fake.calls  # spec.suspend: true
    assert not [c for c in fake.calls if c[:2] == ("create", "runs")]
    status = stored(fake, "sweeps", "s")["status"]
    assert status["phase"] == "Suspended"
    assert "set it to false to go on" in status["message"]
    assert {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]} == {
        "Ready": ("True", "Suspended"),
        "Complete": ("False", "Suspended"),
    }
    assert stored(fake, "runs", "s")["status"]["phase"] == "Killed"
    assert ("Normal", "SweepSuspended") in [e[:2] for e in events]
    # The trial being stopped says so in its spec: it is not patched again.
    fake.calls.clear()
    stopping = trial(0, "Running", suspend=True)
    written = stored(fake, "sweeps", "s")
    reconciler(fake).reconcile(handler_kwargs(written, [stopping], parent()), "ns", "s")
    assert not [c for c in fake.calls if c[:2] == ("patch", "runs") and c[3] == "s-t0"]
    # Resumed: the killed trial counts, and new ones are made up to parallelism.
    resumed = {**written, "spec": {**written["spec"], "suspend": False}}
    fake.objects["sweeps", "ns", "s"] = resumed
    events.clear()
    killed = trial(0, "Killed")
    reconciler(fake).reconcile(handler_kwargs(resumed, [killed], parent()), "ns", "s")
    assert [c[3] for c in fake.calls if c[:2] == ("create", "runs")] == ["s-t1", "s-t2"]
    assert stored(fake, "sweeps", "s")["status"]["phase"] == "Running"
    assert ("Normal", "SweepResumed") in [e[:2] for e in events]


def test_a_run_of_the_parents_name_that_the_sweep_does_not_own_stops_the_reconcile() -> None:
    fake = FakeKube()
    sweep = sweep_obj()
    foreign = {**parent(), "metadata": {**parent()["metadata"], "ownerReferences": []}}
    with pytest.raises(controller.kopf.TemporaryError, match="belongs to another object"):
        reconciler(fake).reconcile(handler_kwargs(sweep, [], foreign), "ns", "s")
    assert not [c for c in fake.calls if c[0] == "create"]


def history(objects: MemoryObjects, run_id: str, values: list[float]) -> None:
    prefix = layout.metrics_prefix("ns", "4", run_id)
    rows = [("rmse", v, 1000 + step, step, None, None, None) for step, v in enumerate(values)]
    objects.put(f"{prefix}log/00000000000000000001-aa.json", encode_rows(rows))


def test_early_stopping_suspends_a_poor_running_trial_and_marks_it_pruned(
    events: list[tuple[str, str, str]],
) -> None:
    fake = FakeKube()
    objects = MemoryObjects("mlkube")
    stopping = {"minSteps": 2, "startupTrials": 2, "intervalSeconds": 10}
    sweep = sweep_obj(earlyStopping=stopping, maxRuns=4)
    done = [trial(0, "Succeeded", 1.0), trial(1, "Succeeded", 1.2)]
    poor, fine = trial(2, "Running"), trial(3, "Running")
    for run in (*done, poor, fine):
        fake.objects["runs", "ns", run["metadata"]["name"]] = run
    history(objects, done[0]["status"]["runId"], [2.0, 1.5, 1.0])
    history(objects, done[1]["status"]["runId"], [2.2, 1.6, 1.2])
    history(objects, poor["status"]["runId"], [9.0, 8.5])
    history(objects, fine["status"]["runId"], [1.9, 1.4])
    sweeps = reconciler(fake, objects)
    kwargs = handler_kwargs(sweep, [*done, poor, fine], parent())
    sweeps.prune(kwargs, "ns", "s")
    patches = [c[3] for c in fake.calls if c[:2] == ("patch", "runs")]
    assert patches == ["s-t2"]
    assert ("Normal", "TrialPruned") in [e[:2] for e in events]
    fake.calls.clear()
    sweeps.prune(kwargs, "ns", "s")  # within intervalSeconds: nothing read, nothing written
    assert fake.calls == []
