"""The Run controller's decisions (run_plan) and the requests its reconcile makes for them.

The reconciler runs against a fake adapter that records requests and indexes over dicts: the
point is which requests a reconcile makes. Issue 12: a Run whose status already says what its Job
and pods say costs no request, however often a tracking write brings it back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.unit.controllers.fakes import RUN_UID, FakeKube, context, indexes

from mlkube.api import Run, parse
from mlkube_operator.controllers import run as run_controller
from mlkube_operator.controllers.context import iso, now
from mlkube_operator.controllers.indexes import lifecycle_view
from mlkube_operator.controllers.run import RunReconciler, is_project_run, needs_resync
from mlkube_operator.controllers.run_plan import duration, invalid_plan, plan_run, settled
from mlkube_operator.resources.run import JobSettings, RunIdentity

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SETTINGS = JobSettings(
    image="rt:1",
    tracking_uri="http://t:5000",
    runner_image="r:1",
)
IDS = RunIdentity(run_id=RUN_UID.replace("-", ""), experiment_id="7")
URI = f"mlflow-artifacts:/7/{IDS.run_id}/artifacts"
EXPERIMENT = {"experimentId": "7", "artifactLocation": None}
SAVED = {"type": "PodLogsSaved", "status": "False", "reason": "NoPodLogs", "message": ""}


@pytest.fixture(autouse=True)
def no_events(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """kopf.event posts through the running operator; here it is recorded."""
    posted: list[tuple[str, str]] = []
    monkeypatch.setattr(
        run_controller.kopf,
        "event",
        lambda body, *, type, reason, message: posted.append((type, reason)),
    )
    return posted


def run_obj(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "train", "namespace": "ml", "uid": RUN_UID, "generation": 1},
        "spec": {"experiment": "churn", "project": {"path": "/p"}, **spec},
        "status": status or {},
    }


def owned_job(suspend: bool = False, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "train", "ownerReferences": [{"uid": RUN_UID}]},
        "spec": {
            "suspend": suspend,
            "template": {"spec": {"containers": [{"name": "main", "image": "rt:1"}]}},
        },
        "status": status,
    }


def running_pod() -> dict[str, Any]:
    return {
        "metadata": {"creationTimestamp": "2026-01-02T03:00:01Z"},
        "status": {"phase": "Running"},
    }


def plan(obj: dict[str, Any], job: dict[str, Any] | None, pods: list[dict[str, Any]]) -> Any:
    return plan_run(obj, parse(Run, obj), IDS, URI, job, pods, SETTINGS, NOW)


# -- decisions ---------------------------------------------------------------------------------


def test_a_new_run_gets_its_job_and_says_pending() -> None:
    decided = plan(run_obj(), None, [])
    assert decided.create_job is not None
    assert decided.create_job["metadata"]["name"] == "train"
    assert decided.status is not None
    assert decided.status["phase"] == "Pending"
    assert decided.status["artifactUri"] == URI
    assert ("Normal", "JobCreated", "created Job train") in decided.events


def test_a_running_job_makes_the_run_running_then_nothing_more() -> None:
    job = owned_job(active=1, startTime="2026-01-02T03:00:00Z")
    first = plan(run_obj({"phase": "Pending"}), job, [running_pod()])
    assert first.create_job is None
    assert first.suspend_job is None
    assert first.status is not None
    assert first.status["phase"] == "Running"
    again = plan(run_obj(first.status), job, [running_pod()])
    assert again.empty  # the status says what the Job says: no request


def test_suspend_is_carried_to_the_job() -> None:
    decided = plan(run_obj({"phase": "Running"}, suspend=True), owned_job(active=1), [])
    assert decided.suspend_job is True


def test_a_job_the_run_does_not_own_is_refused_without_writes() -> None:
    job = owned_job()
    job["metadata"]["ownerReferences"] = [{"uid": "someone-else"}]
    decided = plan(run_obj(), job, [])
    assert decided.foreign_job is not None
    assert "delete it" in decided.foreign_job
    assert decided.status is None
    assert decided.create_job is None


def test_a_run_suspended_before_it_started_gets_no_job() -> None:
    decided = plan(run_obj(suspend=True), None, [])
    assert decided.create_job is None


def test_invalid_spec_fails_once() -> None:
    first = invalid_plan(run_obj(), ["spec.parameters.alpha: expected float"], NOW)
    assert first.status is not None
    assert first.status["phase"] == "Failed"
    assert first.events == [("Warning", "InvalidSpec", "spec.parameters.alpha: expected float")]
    again = invalid_plan(run_obj(first.status), ["spec.parameters.alpha: expected float"], NOW)
    assert again.empty


def test_settled_runs_and_the_filters() -> None:
    assert settled(run_obj({"phase": "Succeeded"}))
    assert not settled(run_obj({"phase": "Running"}))
    tracking_only = {"metadata": {"name": "t"}, "spec": {"experiment": "x"}, "status": {}}
    assert settled(tracking_only)
    assert not is_project_run(spec=tracking_only["spec"])
    assert is_project_run(spec=run_obj()["spec"])
    # An ended Run is looked at again until its pods' logs are all saved.
    assert needs_resync(body=run_obj({"phase": "Failed"}))
    assert not needs_resync(body=run_obj({"phase": "Failed", "conditions": [SAVED]}))


def test_the_index_view_leaves_out_what_the_tracking_server_writes() -> None:
    obj = run_obj({"phase": "Running", "metrics": {"loss": 0.1}, "params": {"a": "1"}})
    view = lifecycle_view(obj)
    assert view["status"] == {"phase": "Running"}
    # Events about the Run name it by apiVersion and kind (kubectl describe finds them so).
    assert (view["apiVersion"], view["kind"]) == ("mlkube.io/v1alpha1", "Run")


# -- requests ----------------------------------------------------------------------------------


def reconciler() -> tuple[RunReconciler, FakeKube]:
    fake = FakeKube()
    return RunReconciler(context(fake)), fake


def test_first_reconcile_makes_the_identity_the_job_and_the_status() -> None:
    reconcile, fake = reconciler()
    fake.objects["runs", "ml", "train"] = {**run_obj(), "metadata": {**run_obj()["metadata"]}}
    found = indexes(
        runs={("ml", "train"): [run_obj()]}, experiments={("ml", "churn"): [EXPERIMENT]}
    )
    reconcile.reconcile(found, "ml", "train")
    assert fake.calls == [
        ("get", "serviceaccounts", "ml", "mlkube-run"),
        ("create", "serviceaccounts", "ml", "mlkube-run"),
        ("get", "rolebindings", "ml", "mlkube-run"),
        ("create", "rolebindings", "ml", "mlkube-run"),
        ("apply", "networkpolicies", "ml", "train"),
        ("create", "jobs", "ml", "train"),
        ("patch-status", "runs", "ml", "train"),
    ]
    assert fake.objects["runs", "ml", "train"]["status"]["phase"] == "Pending"
    # The Run's pods take connections from their own Run's pods only.
    policy = fake.objects["networkpolicies", "ml", "train"]["spec"]
    assert policy["podSelector"] == {"matchLabels": {"mlkube.io/run": "train"}}
    assert policy["ingress"] == [{"from": [{"podSelector": policy["podSelector"]}]}]


def test_a_distributed_run_gets_its_headless_service_before_its_job() -> None:
    reconcile, fake = reconciler()
    obj = run_obj(workers=3)
    fake.objects["runs", "ml", "train"] = {**obj, "metadata": {**obj["metadata"]}}
    found = indexes(runs={("ml", "train"): [obj]}, experiments={("ml", "churn"): [EXPERIMENT]})
    reconcile.reconcile(found, "ml", "train")
    assert [c for c in fake.calls if c[1] in {"networkpolicies", "services", "jobs"}] == [
        ("apply", "networkpolicies", "ml", "train"),
        ("apply", "services", "ml", "train"),
        ("create", "jobs", "ml", "train"),
    ]
    service = fake.objects["services", "ml", "train"]
    assert service["spec"]["clusterIP"] == "None"
    assert service["metadata"]["ownerReferences"][0]["uid"] == RUN_UID
    assert fake.objects["jobs", "ml", "train"]["spec"]["completions"] == 3


def test_a_distributed_run_that_cannot_run_fails_once_naming_why() -> None:
    reconcile, fake = reconciler()
    obj = run_obj(workers=2, backoffLimit=1)
    fake.objects["runs", "ml", "train"] = {**obj, "metadata": {**obj["metadata"]}}
    found = indexes(runs={("ml", "train"): [obj]}, experiments={("ml", "churn"): [EXPERIMENT]})
    reconcile.reconcile(found, "ml", "train")
    assert ("create", "jobs", "ml", "train") not in fake.calls
    status = fake.objects["runs", "ml", "train"]["status"]
    assert status["phase"] == "Failed"
    assert status["message"].startswith("spec.backoffLimit: a run with workers > 1 is not retried")


def test_a_run_that_says_what_its_job_says_costs_no_request() -> None:
    reconcile, fake = reconciler()
    job = owned_job(active=1, startTime=iso(now()))
    status = plan(run_obj({"phase": "Pending"}), job, [running_pod()]).status
    # What a tracking write looks like to the operator: the same lifecycle, new metrics.
    obj = run_obj({**status, "metrics": {"loss": 0.5}})
    found = indexes(
        runs={("ml", "train"): [lifecycle_view(obj)]},
        experiments={("ml", "churn"): [EXPERIMENT]},
        jobs={("ml", "train"): [job]},
        pods={("ml", "train"): [running_pod()]},
    )
    for _ in range(100):
        reconcile.reconcile(found, "ml", "train")
    assert fake.calls == []


def test_tracking_only_and_ended_runs_cost_no_request() -> None:
    reconcile, fake = reconciler()
    tracking_only = {"metadata": {"name": "t", "namespace": "ml"}, "spec": {}, "status": {}}
    reconcile.reconcile(indexes(), "ml", "t", tracking_only)
    ended = run_obj({"phase": "Succeeded", "conditions": [SAVED]})
    reconcile.reconcile(indexes(runs={("ml", "train"): [ended]}), "ml", "train")
    assert fake.calls == []


def test_a_missing_experiment_is_made_and_numbered_once() -> None:
    reconcile, fake = reconciler()
    fake.objects["runs", "ml", "train"] = run_obj()
    reconcile.reconcile(indexes(runs={("ml", "train"): [run_obj()]}), "ml", "train")
    made = fake.objects["experiments", "ml", "churn"]
    assert made["status"]["experimentId"] == "1"
    assert ("create", "experiments", "ml", "churn") in fake.calls
    # With the Experiment in the index (its watch event), no request about it again.
    fake.calls.clear()
    indexed = {"experimentId": "1", "artifactLocation": None}
    found = indexes(runs={("ml", "train"): [run_obj()]}, experiments={("ml", "churn"): [indexed]})
    reconcile.reconcile(found, "ml", "train")
    assert not [
        c
        for c in fake.calls
        if c[1] in {"experiments", "serviceaccounts", "rolebindings", "configmaps"}
    ]


def test_a_running_duration_moves_in_steps_an_ended_one_is_exact() -> None:
    start = datetime(2026, 1, 2, 3, 0, 0, tzinfo=UTC)
    assert duration(start, None, start.replace(second=29)) == "0s"
    assert duration(start, None, start.replace(minute=1, second=45)) == "1m30s"
    assert duration(start, start.replace(second=29), NOW) == "29s"


# -- the image (the mlkube.kubernetes.image tag, issue 14) -----------------------------------


def test_the_status_names_the_image_the_job_runs() -> None:
    job = owned_job(active=1)
    job["spec"]["template"]["spec"]["containers"][0]["image"] = "older:0"
    decided = plan(run_obj({"phase": "Pending"}), job, [running_pod()])
    assert decided.status is not None
    # The Job's own container, not today's default: the default may have changed since.
    assert decided.status["image"] == "older:0"


def test_a_new_run_says_its_own_image_or_the_default() -> None:
    decided = plan(run_obj(image="mine:2"), None, [])
    assert decided.status is not None
    assert decided.status["image"] == "mine:2"
    decided = plan(run_obj(), None, [])
    assert decided.status is not None
    assert decided.status["image"] == SETTINGS.image
