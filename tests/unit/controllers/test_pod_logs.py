"""A project Run's pod output kept as an artifact (issue 14): what an artifact holds
(pod_log_plan) and the requests a reconcile makes to save it once (pod_logs), against the fake
adapter and an in-memory object store."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from tests.unit.controllers.fakes import RUN_UID, FakeKube, context, indexes, record_events

from mlkube import layout
from mlkube.api import Run, parse
from mlkube.objects import MemoryObjects
from mlkube_operator.controllers import pod_log_plan as plan
from mlkube_operator.controllers import pod_logs
from mlkube_operator.controllers.run import RunReconciler, needs_resync
from mlkube_operator.kube.errors import KubeError

RUN_ID = RUN_UID.replace("-", "")
URI = f"mlflow-artifacts:/7/{RUN_ID}/artifacts"
PREFIX = f"ml/experiments/7/{RUN_ID}/artifacts/"
EXPERIMENT = {"experimentId": "7", "artifactLocation": None}


@pytest.fixture(autouse=True)
def events(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str, str]]]:
    """kopf.event posts through the running operator; here it is recorded."""
    return record_events(monkeypatch, pod_logs)


def run_obj(phase: str = "Failed", **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "mlkube.io/v1alpha1",
        "kind": "Run",
        "metadata": {"name": "train", "namespace": "ml", "uid": RUN_UID, "generation": 1},
        "spec": {"experiment": "churn", "project": {"path": "/p"}},
        "status": {"runId": RUN_ID, "phase": phase, "artifactUri": URI, **status},
    }


def pod(
    name: str,
    created: str = "2026-01-02T03:00:00Z",
    phase: str = "Failed",
    *,
    main: dict[str, Any] | None = None,
    prepare: dict[str, Any] | None = None,
    deleting: bool = False,
    run_id: str = RUN_ID,
) -> dict[str, Any]:
    """A pod of the Run as the pods index holds it, holding the operator's finalizer."""
    ended = {"terminated": {"exitCode": 1, "message": "ValueError: boom"}}
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": created,
            "deletionTimestamp": "2026-01-02T03:09:00Z" if deleting else None,
            "finalizers": ["batch.kubernetes.io/job-tracking", plan.FINALIZER],
            "labels": {layout.RUN_ID_LABEL: run_id},
        },
        "status": {
            "phase": phase,
            "initContainerStatuses": [
                {"name": "prepare", "state": prepare or {"terminated": {"exitCode": 0}}}
            ],
            "containerStatuses": [{"name": "main", "state": main or ended}],
        },
    }


class World:
    """The Run controller over the fake adapter and a memory store, with the Run's pods."""

    def __init__(self, run: dict[str, Any], pods: list[dict[str, Any]]) -> None:
        self.kube = FakeKube()
        self.objects = MemoryObjects("mlkube")
        self.kube.objects["runs", "ml", "train"] = run
        self.view: dict[str, Any] | None = copy.deepcopy(run)  # as the index holds it
        self.pods = pods
        self.reconciler = RunReconciler(context(self.kube, objects=self.objects))

    def reconcile(self) -> None:
        found = indexes(
            runs={("ml", "train"): [self.view]} if self.view else {},
            experiments={("ml", "churn"): [EXPERIMENT]},
            pods={("ml", "train"): self.pods},
        )
        self.reconciler.reconcile(found, "ml", "train")

    @property
    def run(self) -> dict[str, Any]:
        return self.kube.objects["runs", "ml", "train"]

    def saved(self) -> dict[str, bytes]:
        return {i.key: self.objects.get(i.key) for i in self.objects.list_all("")}

    def released(self) -> list[str]:
        return [c[3] for c in self.kube.calls if c[:2] == ("patch", "pods")]


# -- what an artifact holds ----------------------------------------------------------------------


def test_a_log_longer_than_the_limit_keeps_its_start_and_says_so_on_its_last_line() -> None:
    log = b"".join(b"line %d\n" % i for i in range(100))
    body, truncated = plan.artifact(plan.Source("main"), log, limit=50)
    assert truncated
    lines = body.decode().splitlines()
    assert lines[0] == "line 0"
    assert (
        lines[-1] == "[mlkube: log truncated: only its first 50 bytes (4.76837e-05 MiB) are kept]"
    )
    assert body.startswith(log[:50])
    # At the limit exactly, nothing is cut and nothing is said.
    body, truncated = plan.artifact(plan.Source("main"), log[:50], limit=50)
    assert (body, truncated) == (log[:50], False)


def test_the_default_limit_is_8_mib_and_its_marker_names_it() -> None:
    body, truncated = plan.artifact(plan.Source("main"), b"x" * (plan.LIMIT + 1))
    assert truncated
    assert len(body) < plan.LIMIT + 200
    assert body.endswith(
        b"\n[mlkube: log truncated: only its first 8388608 bytes (8 MiB) are kept]\n"
    )


def test_a_note_comes_first_and_an_unreadable_log_gives_way_to_the_termination_message() -> None:
    source = plan.Source("main", "[mlkube: a note]")
    body, truncated = plan.artifact(source, None, "container not found", "the last words\n")
    assert not truncated
    assert body.decode().splitlines() == [
        "[mlkube: a note]",
        "[mlkube: the log of container main could not be read (container not found); below is "
        "its termination message, the end of its output the kubelet kept]",
        "the last words",
    ]


def test_which_containers_log_a_pod_gives() -> None:
    assert plan.source(pod("p")) == plan.Source("main")
    # Fetching the project failed: main never ran, the init container's log says why.
    failed_fetch = pod(
        "p",
        prepare={"terminated": {"exitCode": 1}},
        main={"waiting": {"reason": "PodInitializing"}},
    )
    chosen = plan.source(failed_fetch)
    assert chosen.container == "prepare"
    assert "main never started" in chosen.note
    never = pod(
        "p",
        phase="Pending",
        prepare={"waiting": {"reason": "ErrImagePull", "message": "no such image"}},
        main={"waiting": {"reason": "PodInitializing"}},
        deleting=True,
    )
    assert plan.source(never) == plan.Source(
        None, "[mlkube: no container of pod p started (ErrImagePull: no such image)]"
    )
    killed = pod("p", phase="Running", main={"running": {}}, deleting=True)
    assert "last lines may be missing" in plan.source(killed).note


def test_a_pod_is_due_once_it_ended_or_is_being_deleted() -> None:
    assert plan.finished(pod("p", phase="Succeeded"))
    assert plan.finished(pod("p", phase="Running", deleting=True))
    assert not plan.finished(pod("p", phase="Running"))
    assert plan.awaiting(pod("p"))


def test_artifacts_are_named_by_attempt_and_pod() -> None:
    assert layout.pod_log_path(2, "train-x7k2p") == "mlkube/pod-logs/attempt-2-train-x7k2p.log"
    with pytest.raises(layout.LayoutError):
        layout.pod_log_path(1, "../etc")


def test_where_a_runs_log_goes() -> None:
    path = "mlkube/pod-logs/attempt-1-p.log"
    assert plan.location("mlkube", "ml", URI, path).key == PREFIX + path
    own = f"s3://mlkube/ml/elsewhere/{RUN_ID}/artifacts"
    assert str(plan.location("mlkube", "ml", own, path)) == f"{own}/{path}"
    for outside in (
        f"s3://mlkube/other-team/x/{RUN_ID}/artifacts",  # another namespace's prefix
        f"s3://their-bucket/ml/{RUN_ID}/artifacts",
        f"s3://mlkube/ml/../other-team/{RUN_ID}/artifacts",
        "mlflow-artifacts:/models/m/1",
    ):
        with pytest.raises(layout.LayoutError):
            plan.location("mlkube", "ml", outside, path)


# -- saving ----------------------------------------------------------------------------------------


def test_each_pod_of_a_failed_run_is_saved_once_in_attempt_order(
    events: list[tuple[str, str, str]],
) -> None:
    first = pod("train-aaaaa", "2026-01-02T03:00:00Z")
    second = pod("train-bbbbb", "2026-01-02T03:05:00Z")
    world = World(run_obj(), [second, first])
    world.kube.logs["ml", "train-aaaaa", "main"] = b"try one\n"
    world.kube.logs["ml", "train-bbbbb", "main"] = b"try two\n"
    world.reconcile()
    assert world.saved() == {
        PREFIX + "mlkube/pod-logs/attempt-1-train-aaaaa.log": b"try one\n",
        PREFIX + "mlkube/pod-logs/attempt-2-train-bbbbb.log": b"try two\n",
    }
    assert world.run["status"]["podLogs"] == [
        plan.entry("train-aaaaa", 1, "mlkube/pod-logs/attempt-1-train-aaaaa.log", 8, False),
        plan.entry("train-bbbbb", 2, "mlkube/pod-logs/attempt-2-train-bbbbb.log", 8, False),
    ]
    assert parse(Run, world.run).status.pod_logs[1].attempt == 2  # the CRD's shape
    assert world.released() == ["train-aaaaa", "train-bbbbb"]
    assert [e[1] for e in events] == ["PodLogsSaved", "PodLogsSaved"]
    # The index still shows the pods with the finalizer (their events are on the way): the Run
    # is read again, nothing is written twice.
    world.kube.calls.clear()
    world.reconcile()
    assert ("get", "pods/log", "ml", "train-aaaaa") not in world.kube.calls
    assert len(world.saved()) == 2
    assert len(world.run["status"]["podLogs"]) == 2


def test_an_operator_stopped_between_steps_finishes_without_a_second_artifact() -> None:
    world = World(run_obj(), [pod("train-aaaaa")])
    world.kube.logs["ml", "train-aaaaa", "main"] = b"output\n"
    recorded = world.kube.patch

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("operator killed after writing the object")

    world.kube.patch = killed  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        world.reconcile()
    assert list(world.saved()) == [PREFIX + "mlkube/pod-logs/attempt-1-train-aaaaa.log"]
    assert world.released() == []  # the pod waits
    world.kube.patch = recorded  # type: ignore[method-assign]
    world.reconcile()
    assert list(world.saved()) == [PREFIX + "mlkube/pod-logs/attempt-1-train-aaaaa.log"]
    assert [e["pod"] for e in world.run["status"]["podLogs"]] == ["train-aaaaa"]
    assert world.released() == ["train-aaaaa"]


def test_a_recorded_pod_is_only_let_go() -> None:
    entry = plan.entry("train-aaaaa", 1, "mlkube/pod-logs/attempt-1-train-aaaaa.log", 7, False)
    world = World(run_obj(podLogs=[entry]), [pod("train-aaaaa")])
    world.reconcile()
    assert world.saved() == {}
    assert ("get", "pods/log", "ml", "train-aaaaa") not in world.kube.calls
    assert world.released() == ["train-aaaaa"]


def test_a_long_log_is_read_with_a_bound_and_marked_cut() -> None:
    world = World(run_obj(), [pod("train-aaaaa")])
    world.kube.logs["ml", "train-aaaaa", "main"] = b"y" * (plan.LIMIT + 5000)
    world.reconcile()
    (body,) = world.saved().values()
    assert body.endswith(b"MiB) are kept]\n")
    assert world.run["status"]["podLogs"][0]["truncated"] is True


def test_a_log_the_kubelet_no_longer_has_is_replaced_by_the_termination_message() -> None:
    world = World(run_obj(), [pod("train-aaaaa", deleting=True)])
    world.kube.logs["ml", "train-aaaaa", "main"] = KubeError(
        400, "BadRequest", 'container "main" in pod "train-aaaaa" is not available'
    )
    world.reconcile()
    (body,) = world.saved().values()
    assert "could not be read" in body.decode()
    assert body.decode().endswith("ValueError: boom")
    assert world.released() == ["train-aaaaa"]


def test_a_transient_error_keeps_the_pod_waiting() -> None:
    world = World(run_obj(), [pod("train-aaaaa")])
    world.kube.logs["ml", "train-aaaaa", "main"] = KubeError(503, "ServiceUnavailable")
    with pytest.raises(KubeError):
        world.reconcile()
    assert world.saved() == {}
    assert world.released() == []


def test_an_s3_location_outside_the_namespace_is_not_written(
    events: list[tuple[str, str, str]],
) -> None:
    elsewhere = f"s3://mlkube/other-team/{RUN_ID}/artifacts"
    world = World(run_obj(artifactUri=elsewhere), [pod("train-aaaaa")])
    world.kube.logs["ml", "train-aaaaa", "main"] = b"secret\n"
    world.reconcile()
    assert world.saved() == {}
    assert ("Warning", "PodLogsNotSaved") in [(t, r) for t, r, _ in events]
    assert world.released() == ["train-aaaaa"]


def test_pods_of_a_run_that_is_gone_or_of_an_earlier_one_are_let_go_unsaved() -> None:
    world = World(run_obj(), [pod("train-aaaaa")])
    world.view = None
    world.reconcile()
    assert world.released() == ["train-aaaaa"]
    world = World(run_obj(), [pod("train-old00", run_id="f" * 32)])
    world.reconcile()
    assert world.saved() == {}
    assert world.released() == ["train-old00"]


def test_an_ended_run_concludes_once_then_costs_no_request() -> None:
    world = World(run_obj(), [pod("train-aaaaa")])
    world.kube.logs["ml", "train-aaaaa", "main"] = b"out\n"
    world.reconcile()
    condition = next(c for c in world.run["status"]["conditions"] if c["type"] == "PodLogsSaved")
    assert (condition["status"], condition["reason"]) == ("True", "Saved")
    assert "mlkube/pod-logs/attempt-1-train-aaaaa.log" in condition["message"]
    assert needs_resync(body=world.view)  # the index has not seen the condition yet
    # The pod let go and the Run's new status in the index: nothing left to do.
    world.view = world.run
    world.pods = []
    world.kube.calls.clear()
    world.reconcile()
    assert world.kube.calls == []
    assert not needs_resync(body=world.view)


def test_a_run_that_ended_with_no_pod_says_so() -> None:
    world = World(run_obj(phase="Killed"), [])
    world.reconcile()
    condition = next(c for c in world.run["status"]["conditions"] if c["type"] == "PodLogsSaved")
    assert (condition["status"], condition["reason"]) == ("False", "NoPodLogs")


def test_a_running_run_with_running_pods_costs_no_request() -> None:
    world = World(run_obj(phase="Running"), [pod("train-aaaaa", phase="Running")])
    found = indexes(
        runs={("ml", "train"): [world.view]},
        experiments={("ml", "churn"): [EXPERIMENT]},
        pods={("ml", "train"): world.pods},
    )
    world.reconciler.pod_logs.reconcile(found, "ml", "train", world.view)
    assert world.kube.calls == []
