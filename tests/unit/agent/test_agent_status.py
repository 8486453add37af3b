from __future__ import annotations

import pytest
import yaml
from e2e.cluster.agent.model import (
    ContainerState,
    ContainerStateRunning,
    ContainerStateTerminated,
    ContainerStateWaiting,
    Pod,
    PodCondition,
)
from e2e.cluster.agent.status import ContainerRecord, Observed, initial_state, pod_status, qos_class

NOW = "2026-01-01T00:00:10Z"
OBSERVED = Observed(
    now=NOW,
    host_ip="127.0.0.1",
    pod_ip="127.20.0.5",
    start_time="2026-01-01T00:00:00Z",
    sandbox_ready=True,
)


def pod(text: str) -> Pod:
    return Pod.model_validate(yaml.safe_load(text))


def running() -> ContainerState:
    return ContainerState(running=ContainerStateRunning(started_at="2026-01-01T00:00:01Z"))


def exited(code: int) -> ContainerState:
    return ContainerState(
        terminated=ContainerStateTerminated(
            exit_code=code, reason="Completed" if code == 0 else "Error", finished_at=NOW
        )
    )


def waiting(reason: str) -> ContainerState:
    return ContainerState(waiting=ContainerStateWaiting(reason=reason))


def record(
    name: str, state: ContainerState, *, ready: bool = False, last: ContainerState | None = None
) -> ContainerRecord:
    return ContainerRecord(
        name,
        "python:3.11",
        state,
        last_state=last or ContainerState(),
        ready=ready,
        started=state.running is not None,
    )


ONE = """
metadata: {name: p, namespace: ns, uid: u}
spec:
  restartPolicy: POLICY
  containers: [{name: main}]
"""

TWO = """
metadata: {name: p, namespace: ns, uid: u}
spec:
  containers: [{name: b}, {name: a}]
"""

INIT = """
metadata: {name: p, namespace: ns, uid: u}
spec:
  restartPolicy: Never
  initContainers: [{name: setup}]
  containers: [{name: main}]
"""


def conditions(
    status_conditions: list[PodCondition],
) -> dict[str, tuple[str, str | None, str | None]]:
    return {c.type: (c.status, c.reason, c.message) for c in status_conditions}


@pytest.mark.parametrize(
    ("policy", "state", "last", "phase"),
    [
        ("Always", waiting("ContainerCreating"), None, "Pending"),
        ("Always", running(), None, "Running"),
        ("Always", exited(1), None, "Running"),
        ("Always", waiting("CrashLoopBackOff"), exited(1), "Running"),
        ("OnFailure", exited(0), None, "Succeeded"),
        ("OnFailure", exited(2), None, "Running"),
        ("Never", exited(0), None, "Succeeded"),
        ("Never", exited(2), None, "Failed"),
        ("Never", waiting("ErrImagePull"), None, "Pending"),
    ],
)
def test_the_phase_follows_the_kubelet(
    policy: str, state: ContainerState, last: ContainerState | None, phase: str
) -> None:
    p = pod(ONE.replace("POLICY", policy))
    assert pod_status(p, [record("main", state, last=last)], OBSERVED).phase == phase


def test_a_running_ready_pod_reports_every_condition_true() -> None:
    p = pod(ONE.replace("POLICY", "Always"))
    status = pod_status(p, [record("main", running(), ready=True)], OBSERVED)
    assert {k: v[0] for k, v in conditions(status.conditions).items()} == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    assert status.pod_ip == "127.20.0.5"
    assert status.host_ip == "127.0.0.1"
    assert status.qos_class == "BestEffort"


def test_unready_containers_are_named_in_ready_and_containers_ready() -> None:
    p = pod(TWO)
    status = pod_status(p, [record("b", running()), record("a", running(), ready=True)], OBSERVED)
    found = conditions(status.conditions)
    assert found["ContainersReady"] == (
        "False",
        "ContainersNotReady",
        "containers with unready status: [b]",
    )
    assert found["Ready"] == ("False", "ContainersNotReady", "containers with unready status: [b]")
    assert [s.name for s in status.container_statuses or []] == ["a", "b"]


def test_init_containers_gate_initialization() -> None:
    p = pod(INIT)
    pending = pod_status(
        p, [record("setup", running()), record("main", initial_state(p))], OBSERVED
    )
    assert pending.phase == "Pending"
    assert conditions(pending.conditions)["Initialized"] == (
        "False",
        "ContainersNotInitialized",
        "containers with incomplete status: [setup]",
    )
    assert initial_state(p).waiting is not None
    assert initial_state(p).waiting.reason == "PodInitializing"
    done = pod_status(
        p, [record("setup", exited(0)), record("main", running(), ready=True)], OBSERVED
    )
    assert done.phase == "Running"
    assert conditions(done.conditions)["Initialized"][0] == "True"
    assert (done.init_container_statuses or [])[0].ready is True


def test_a_failed_init_container_fails_a_never_restarting_pod() -> None:
    p = pod(INIT)
    status = pod_status(p, [record("setup", exited(1)), record("main", initial_state(p))], OBSERVED)
    assert status.phase == "Failed"


def test_completed_pods_report_pod_completed() -> None:
    p = pod(ONE.replace("POLICY", "Never"))
    status = pod_status(p, [record("main", exited(0))], OBSERVED)
    found = conditions(status.conditions)
    assert found["Ready"] == ("False", "PodCompleted", None)
    assert found["ContainersReady"] == ("False", "PodCompleted", None)
    assert found["Initialized"] == ("True", "PodCompleted", None)


def test_a_deleted_pod_is_terminal_whatever_its_restart_policy() -> None:
    p = pod(ONE.replace("POLICY", "Always"))
    terminal = Observed(**{**OBSERVED.__dict__, "terminal": True})
    assert pod_status(p, [record("main", exited(143))], terminal).phase == "Failed"
    assert pod_status(p, [record("main", exited(0))], terminal).phase == "Succeeded"


def test_a_deadline_fails_the_pod_with_its_reason() -> None:
    p = pod(ONE.replace("POLICY", "Always"))
    observed = Observed(
        **{
            **OBSERVED.__dict__,
            "terminal": True,
            "reason": "DeadlineExceeded",
            "message": "too long",
        }
    )
    status = pod_status(p, [record("main", exited(0))], observed)
    assert (status.phase, status.reason, status.message) == (
        "Failed",
        "DeadlineExceeded",
        "too long",
    )


def test_a_terminal_phase_never_changes_and_other_conditions_are_kept() -> None:
    p = pod(
        ONE.replace("POLICY", "Never")
        + """
status:
  phase: Succeeded
  conditions:
  - {type: DisruptionTarget, status: "True", reason: DeletionByTaintManager}
  - {type: PodScheduled, status: "True", lastTransitionTime: "2025-01-01T00:00:00Z"}
"""
    )
    status = pod_status(p, [record("main", running())], OBSERVED)
    assert status.phase == "Succeeded"
    found = {c.type: c for c in status.conditions}
    assert found["DisruptionTarget"].reason == "DeletionByTaintManager"
    # An unchanged condition keeps its transition time; new ones get "now".
    assert found["PodScheduled"].last_transition_time == "2025-01-01T00:00:00Z"
    assert found["Ready"].last_transition_time == NOW


def test_readiness_gates_must_be_true() -> None:
    p = pod(
        ONE.replace("POLICY", "Always") + "  readinessGates: [{conditionType: example.com/ok}]\n"
    )
    status = pod_status(p, [record("main", running(), ready=True)], OBSERVED)
    assert conditions(status.conditions)["Ready"][:2] == ("False", "ReadinessGatesNotReady")


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        ("{}", "BestEffort"),
        ("{requests: {cpu: 100m}}", "Burstable"),
        ("{limits: {cpu: 1, memory: 1Gi}}", "Guaranteed"),
        ("{limits: {cpu: 1, memory: 1Gi}, requests: {cpu: 500m, memory: 1Gi}}", "Burstable"),
    ],
)
def test_qos_class(resources: str, qos: str) -> None:
    p = pod(f"spec: {{containers: [{{name: c, resources: {resources}}}]}}")
    assert qos_class(p) == qos
