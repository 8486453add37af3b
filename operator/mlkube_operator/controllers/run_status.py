"""What a project Run's status should say, given its Job and pods: a pure function.

Phases: Pending until the Job has an active pod that runs, Running, then Succeeded or Failed from
the Job's conditions; Killed when the Run asked to be suspended and the Job's pods are gone. A
terminal phase never changes again, even when the Job is later deleted (ttlSecondsAfterFinished).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlkube.api.run import RunPhase
from mlkube_operator.resources.distributed import COMPLETION_INDEX

TERMINAL = frozenset({RunPhase.SUCCEEDED, RunPhase.FAILED, RunPhase.KILLED})
MAX_MESSAGE = 1024
# Exit codes above this are deaths by a signal (128 + its number).
SIGNALLED = 128


@dataclass(frozen=True)
class Observed:
    """The lifecycle fields of Run.status that the operator owns."""

    phase: RunPhase
    start_time: datetime | None = None
    end_time: datetime | None = None
    message: str | None = None
    reason: str = ""
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)


def _condition(job: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return dict(condition)
    return None


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod's container statuses, the init container (`mlkube project prepare`, which
    fetches the project) first: when it fails, the main container never starts."""
    status = pod.get("status") or {}
    return [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]


def _exit(pod: dict[str, Any]) -> dict[str, Any] | None:
    """The terminated state of the pod's first container that exited non-zero, or None."""
    for container in _containers(pod):
        terminated = (container.get("state") or {}).get("terminated") or {}
        if terminated and terminated.get("exitCode", 0) != 0:
            return dict(terminated)
    return None


def _exit_words(terminated: dict[str, Any]) -> str:
    """The most useful words about why a container failed: its termination message."""
    text = (terminated.get("message") or "").strip()
    code = terminated.get("exitCode")
    if terminated.get("reason") == "OOMKilled":
        # The kernel killed it: say so first, and what to change, then its output.
        head = (
            "OOMKilled: the run used more memory than its limit; raise spec.resources.limits.memory"
        )
        return f"{head}. {text}" if text else head
    return text or f"container exited with code {code} ({terminated.get('reason')})"


def _pod_failure(pods: list[dict[str, Any]]) -> str | None:
    """Why the run's newest pod that failed did: its termination message, or why its image
    cannot be pulled."""
    newest = sorted(pods, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "")
    for pod in reversed(newest):
        terminated = _exit(pod)
        if terminated is not None:
            return _exit_words(terminated)
        for container in _containers(pod):
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in {"ErrImagePull", "ImagePullBackOff", "InvalidImageName"}:
                return f"{waiting['reason']}: {waiting.get('message', '')}".strip()
    return None


def _indexes(text: str) -> list[int]:
    """The completion indexes of a Job's ``status.failedIndexes`` (``"1,3-5"``)."""
    found: list[int] = []
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        if first.isdigit() and (not last or last.isdigit()):
            found.extend(range(int(first), int(last or first) + 1))
    return found


def _rank_failure(job: dict[str, Any], pods: list[dict[str, Any]]) -> str | None:
    """Which rank of a distributed Run failed, and why: ``rank 2 (pod p) exited 1: <its
    termination message>``, from the Job's ``status.failedIndexes`` and the ranks' pods; None
    for a Job without failed indexes (one worker).

    When one rank dies, the others often fail a moment later (their peer is gone, or the Job
    controller stops them), so the rank named is the first to end of those that failed by
    themselves: a pod being deleted (the Job controller deletes the ranks it stops) comes after
    one that is not, then the earlier end (a second's resolution), then one killed by a signal
    (exit code above 128) after one that exited.
    """
    failed = set(_indexes(str((job.get("status") or {}).get("failedIndexes") or "")))
    if not failed:
        return None
    ended = []
    for pod in pods:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        index = str(labels.get(COMPLETION_INDEX, ""))
        terminated = _exit(pod)
        if index.isdigit() and int(index) in failed and terminated is not None:
            code = int(terminated.get("exitCode") or 0)
            stopped = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
            finished = str(terminated.get("finishedAt") or "")
            key = (stopped, finished, code > SIGNALLED, int(index))
            ended.append((key, pod, terminated))
    ranks = ", ".join(str(i) for i in sorted(failed))
    if not ended:
        return f"rank(s) {ranks} failed"
    (*_, rank), pod, terminated = min(ended, key=lambda e: e[0])
    others = sorted(failed - {rank})
    also = f" (rank(s) {', '.join(map(str, others))} failed too)" if others else ""
    name = (pod.get("metadata") or {}).get("name")
    return f"rank {rank} (pod {name}) exited {terminated.get('exitCode')}{also}: " + _exit_words(
        terminated
    )


def _running(pods: list[dict[str, Any]]) -> bool:
    return any((p.get("status") or {}).get("phase") == "Running" for p in pods)


def _short(text: str) -> str:
    """At most MAX_MESSAGE characters: the first line whole (the runner puts the exception
    there, issue 12) and the end of the rest."""
    text = text.strip()
    if len(text) <= MAX_MESSAGE:
        return text
    first, newline, rest = text.partition("\n")
    head = first[: MAX_MESSAGE // 2] + "\n" if newline else ""
    room = MAX_MESSAGE - len(head) - 3
    return head + "..." + (rest if newline else text)[-room:]


def observe(
    current: RunPhase | None,
    suspend: bool,
    job: dict[str, Any] | None,
    pods: list[dict[str, Any]],
    now: datetime,
) -> Observed | None:
    """The status the Run should have, or None when the current one stands (terminal)."""
    if current in TERMINAL:
        return None
    if job is None:
        return Observed(RunPhase.PENDING, reason="JobPending", message="creating the Job")
    status = job.get("status") or {}
    start = _time(status.get("startTime"))
    if _condition(job, "Complete"):
        end = _time(status.get("completionTime")) or now
        # An Indexed Job (a distributed Run) lists the ranks that completed.
        ranks = len(_indexes(str(status.get("completedIndexes") or "")))
        return Observed(
            RunPhase.SUCCEEDED,
            start,
            end,
            f"all {ranks} ranks exited 0" if ranks > 1 else "the run's code exited 0",
            "Succeeded",
            [("Normal", "Succeeded", "the run completed")],
        )
    failed = _condition(job, "Failed")
    if failed:
        why = (
            _rank_failure(job, pods)
            or _pod_failure(pods)
            or failed.get("message")
            or failed.get("reason")
            or "failed"
        )
        reason = failed.get("reason") or "Failed"
        if reason == "DeadlineExceeded":
            why = f"killed after activeDeadlineSeconds: {failed.get('message', '')}".strip()
        message = _short(why)
        return Observed(
            RunPhase.FAILED,
            start,
            _time(failed.get("lastTransitionTime")) or now,
            message,
            reason,
            [("Warning", "Failed", message)],
        )
    if suspend:
        if status.get("active"):
            return Observed(
                RunPhase.RUNNING, start, None, "stopping: spec.suspend is true", "Stopping"
            )
        return Observed(
            RunPhase.KILLED,
            start,
            now,
            "killed: spec.suspend was set to true",
            "Killed",
            [("Normal", "Killed", "the run was killed (spec.suspend: true)")],
        )
    image_problem = _pod_failure(pods)
    if image_problem and "Image" in image_problem:
        return Observed(RunPhase.PENDING, start, None, _short(image_problem), "ImagePull")
    if (status.get("active") and _running(pods)) or current == RunPhase.RUNNING:
        # Once running, a run stays Running until its Job ends: between its pod's exit and the
        # Job's Complete condition (or while a retry's pod starts) it has not gone back to wait.
        return Observed(RunPhase.RUNNING, start, None, None, "Running")
    return Observed(RunPhase.PENDING, start, None, "waiting for the pod to start", "PodPending")
