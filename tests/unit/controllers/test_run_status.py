"""Mapping a Run's Job and pods to its phase, times and message."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mlkube.api.run import RunPhase
from mlkube_operator.controllers.run_status import observe

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def job(*conditions: dict[str, Any], **status: Any) -> dict[str, Any]:
    return {
        "status": {"startTime": "2026-01-02T03:00:00Z", "conditions": list(conditions), **status}
    }


def pod(
    phase: str, terminated: dict[str, Any] | None = None, waiting: dict[str, Any] | None = None
) -> dict[str, Any]:
    state = (
        {"terminated": terminated}
        if terminated
        else {"waiting": waiting}
        if waiting
        else {"running": {}}
    )
    return {
        "metadata": {"creationTimestamp": "2026-01-02T03:00:01Z"},
        "status": {"phase": phase, "containerStatuses": [{"name": "main", "state": state}]},
    }


def test_no_job_yet_is_pending() -> None:
    seen = observe(None, False, None, [], NOW)
    assert seen is not None
    assert seen.phase == RunPhase.PENDING


def test_active_running_pod_is_running_with_start_time() -> None:
    seen = observe(RunPhase.PENDING, False, job(active=1), [pod("Running")], NOW)
    assert seen is not None
    assert seen.phase == RunPhase.RUNNING
    assert seen.start_time == datetime(2026, 1, 2, 3, 0, tzinfo=UTC)


def test_complete_job_succeeds_with_end_time() -> None:
    done = job({"type": "Complete", "status": "True"}, completionTime="2026-01-02T03:02:00Z")
    seen = observe(RunPhase.RUNNING, False, done, [], NOW)
    assert seen is not None
    assert seen.phase == RunPhase.SUCCEEDED
    assert seen.end_time == datetime(2026, 1, 2, 3, 2, tzinfo=UTC)
    assert seen.events == [("Normal", "Succeeded", "the run completed")]


def test_failed_job_takes_the_termination_message() -> None:
    failed = job({"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"})
    pods = [
        pod(
            "Failed",
            terminated={
                "exitCode": 1,
                "reason": "Error",
                "message": "exit code 1: ValueError: bad",
            },
        )
    ]
    seen = observe(RunPhase.RUNNING, False, failed, pods, NOW)
    assert seen is not None
    assert seen.phase == RunPhase.FAILED
    assert seen.message == "exit code 1: ValueError: bad"
    assert seen.reason == "BackoffLimitExceeded"


def test_a_long_message_keeps_its_first_line_and_its_end() -> None:
    """The runner writes up to 2,000 characters, the exception line first (issue 12)."""
    failed = job({"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"})
    tail = "".join(f"  frame {i}\n" for i in range(200)) + "ValueError: bad"
    message = f"ValueError: bad\nexit code 1: {tail}"
    pods = [pod("Failed", terminated={"exitCode": 1, "reason": "Error", "message": message})]
    seen = observe(RunPhase.RUNNING, False, failed, pods, NOW)
    assert seen is not None
    assert seen.message is not None
    assert len(seen.message) == 1024
    assert seen.message.startswith("ValueError: bad\n...")
    assert seen.message.endswith("frame 199\nValueError: bad")
    one_line = "x" * 3000
    pods = [pod("Failed", terminated={"exitCode": 1, "reason": "Error", "message": one_line})]
    seen = observe(RunPhase.RUNNING, False, failed, pods, NOW)
    assert seen is not None
    assert seen.message == "..." + "x" * 1021


def test_failed_without_message_says_the_exit_code() -> None:
    failed = job({"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"})
    pods = [pod("Failed", terminated={"exitCode": 2, "reason": "Error"})]
    seen = observe(RunPhase.RUNNING, False, failed, pods, NOW)
    assert seen is not None
    assert seen.message == "container exited with code 2 (Error)"


def test_an_oom_kill_says_so_first_and_names_the_limit_to_raise() -> None:
    failed = job({"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"})
    killed = {"exitCode": 137, "reason": "OOMKilled", "message": "exit code -9: allocating"}
    seen = observe(RunPhase.RUNNING, False, failed, [pod("Failed", terminated=killed)], NOW)
    assert seen is not None
    assert seen.message == (
        "OOMKilled: the run used more memory than its limit; raise "
        "spec.resources.limits.memory. exit code -9: allocating"
    )
    bare = {"exitCode": 137, "reason": "OOMKilled"}
    seen = observe(RunPhase.RUNNING, False, failed, [pod("Failed", terminated=bare)], NOW)
    assert seen is not None
    assert seen.message.startswith("OOMKilled: ")


def test_deadline_is_explained() -> None:
    failed = job(
        {
            "type": "Failed",
            "status": "True",
            "reason": "DeadlineExceeded",
            "message": "Job was active longer than specified deadline",
        }
    )
    seen = observe(RunPhase.RUNNING, False, failed, [], NOW)
    assert seen is not None
    assert (
        seen.message
        == "killed after activeDeadlineSeconds: Job was active longer than specified deadline"
    )


def test_suspend_kills_once_the_pods_are_gone() -> None:
    stopping = observe(RunPhase.RUNNING, True, job(active=1), [pod("Running")], NOW)
    assert stopping is not None
    assert stopping.phase == RunPhase.RUNNING
    killed = observe(RunPhase.RUNNING, True, job(active=0), [], NOW)
    assert killed is not None
    assert killed.phase == RunPhase.KILLED
    assert killed.end_time == NOW


def test_unknown_image_keeps_pending_with_the_reason() -> None:
    pods = [pod("Pending", waiting={"reason": "ErrImagePull", "message": "no such image foo:1"})]
    seen = observe(RunPhase.PENDING, False, job(active=1), pods, NOW)
    assert seen is not None
    assert seen.phase == RunPhase.PENDING
    assert seen.message == "ErrImagePull: no such image foo:1"


def test_terminal_phases_never_change() -> None:
    for phase in (RunPhase.SUCCEEDED, RunPhase.FAILED, RunPhase.KILLED):
        assert observe(phase, False, None, [], NOW) is None


def test_a_failed_fetch_in_the_init_container_is_the_message() -> None:
    failed = job({"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"})
    fetch_failed = {
        "metadata": {"creationTimestamp": "2026-01-02T03:00:01Z"},
        "status": {
            "phase": "Failed",
            "initContainerStatuses": [
                {
                    "name": "prepare",
                    "state": {
                        "terminated": {
                            "exitCode": 2,
                            "reason": "Error",
                            "message": "git clone failed: repository not found",
                        }
                    },
                }
            ],
            "containerStatuses": [
                {"name": "main", "state": {"waiting": {"reason": "PodInitializing"}}}
            ],
        },
    }
    seen = observe(RunPhase.RUNNING, False, failed, [fetch_failed], NOW)
    assert seen is not None
    assert seen.phase == RunPhase.FAILED
    assert seen.message == "git clone failed: repository not found"


def test_a_running_run_does_not_go_back_to_pending_before_its_job_ends() -> None:
    finished_pod = pod("Succeeded", terminated={"exitCode": 0, "reason": "Completed"})
    seen = observe(RunPhase.RUNNING, False, job(active=0), [finished_pod], NOW)
    assert seen is not None
    assert seen.phase == RunPhase.RUNNING


# -- distributed Runs: the failed rank is named ------------------------------------------------


def rank(
    index: int, code: int, finished: str, message: str = "", deleted: bool = False
) -> dict[str, Any]:
    """A rank's pod (as the operator's index holds it) whose main container exited."""
    terminated = {"exitCode": code, "reason": "Error", "finishedAt": finished, "message": message}
    ended = pod("Failed" if code else "Succeeded", terminated)
    ended["metadata"] = {
        "name": f"ddp-{index}-x{index}",
        "creationTimestamp": "2026-01-02T03:00:01Z",
        "deletionTimestamp": finished if deleted else None,
        "labels": {"batch.kubernetes.io/job-completion-index": str(index)},
    }
    return ended


MAX_FAILED = {"type": "Failed", "status": "True", "reason": "MaxFailedIndexesExceeded"}


def test_a_failed_rank_is_named_with_its_pod_and_its_error() -> None:
    pods = [
        rank(0, 143, "2026-01-02T03:01:09Z"),  # stopped by the Job controller afterwards
        rank(1, 0, "2026-01-02T03:01:00Z"),
        rank(2, 1, "2026-01-02T03:01:05Z", "RuntimeError: boom\nexit code 1: ...boom"),
    ]
    seen = observe(RunPhase.RUNNING, False, job(MAX_FAILED, failedIndexes="2"), pods, NOW)
    assert seen is not None
    assert seen.phase == RunPhase.FAILED
    assert seen.message == (
        "rank 2 (pod ddp-2-x2) exited 1: RuntimeError: boom\nexit code 1: ...boom"
    )
    assert seen.events == [("Warning", "Failed", seen.message)]


def test_the_rank_that_failed_first_is_named_when_its_peers_fail_after_it() -> None:
    pods = [
        rank(0, 1, "2026-01-02T03:01:06Z", "ConnectionError: rank 3 went away"),
        rank(3, 2, "2026-01-02T03:01:05Z", "ValueError: bad shard"),
        rank(4, 137, "2026-01-02T03:01:05Z"),  # killed in the same second: not the cause
        # Stopped by the Job controller (deleted), its peer gone: exited 1 in the same second.
        rank(1, 1, "2026-01-02T03:01:05Z", "ConnectionResetError: reset", deleted=True),
    ]
    failed = job(MAX_FAILED, failedIndexes="0,1,3-4")
    seen = observe(RunPhase.RUNNING, False, failed, pods, NOW)
    assert seen is not None
    assert seen.message == (
        "rank 3 (pod ddp-3-x3) exited 2 (rank(s) 0, 1, 4 failed too): ValueError: bad shard"
    )


def test_a_failed_index_without_its_pod_still_names_the_rank() -> None:
    seen = observe(RunPhase.RUNNING, False, job(MAX_FAILED, failedIndexes="1"), [], NOW)
    assert seen is not None
    assert seen.message == "rank(s) 1 failed"


def test_a_run_of_one_worker_names_no_rank() -> None:
    failed = job({"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"})
    seen = observe(RunPhase.RUNNING, False, failed, [rank(0, 1, "2026-01-02T03:01:00Z", "no")], NOW)
    assert seen is not None
    assert seen.message == "no"


def test_a_distributed_run_that_completes_says_all_its_ranks_exited_0() -> None:
    done = job(
        {"type": "Complete", "status": "True"},
        completionTime="2026-01-02T03:02:00Z",
        completedIndexes="0-2",
        succeeded=3,
    )
    seen = observe(RunPhase.RUNNING, False, done, [], NOW)
    assert seen is not None
    assert (seen.phase, seen.message) == (RunPhase.SUCCEEDED, "all 3 ranks exited 0")
