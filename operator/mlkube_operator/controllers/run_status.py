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

TERMINAL = frozenset({RunPhase.SUCCEEDED, RunPhase.FAILED, RunPhase.KILLED})
MAX_MESSAGE = 1024


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


def _pod_failure(pods: list[dict[str, Any]]) -> str | None:
    """The most useful words about why the run's container failed: its termination message.

    The init container (`mlkube project prepare`, which fetches the project) comes first: when
    it fails, the main container never starts.
    """
    newest = sorted(pods, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "")
    for pod in reversed(newest):
        status = pod.get("status") or {}
        containers = [
            *(status.get("initContainerStatuses") or []),
            *(status.get("containerStatuses") or []),
        ]
        for container in containers:
            terminated = (container.get("state") or {}).get("terminated") or {}
            if terminated and terminated.get("exitCode", 0) != 0:
                text = (terminated.get("message") or "").strip()
                code = terminated.get("exitCode")
                if terminated.get("reason") == "OOMKilled":
                    # The kernel killed it: say so first, and what to change, then its output.
                    head = (
                        "OOMKilled: the run used more memory than its limit; raise "
                        "spec.resources.limits.memory"
                    )
                    return f"{head}. {text}" if text else head
                return text or f"container exited with code {code} ({terminated.get('reason')})"
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in {"ErrImagePull", "ImagePullBackOff", "InvalidImageName"}:
                return f"{waiting['reason']}: {waiting.get('message', '')}".strip()
    return None


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
        return Observed(
            RunPhase.SUCCEEDED,
            start,
            end,
            "the run's code exited 0",
            "Succeeded",
            [("Normal", "Succeeded", "the run completed")],
        )
    failed = _condition(job, "Failed")
    if failed:
        why = _pod_failure(pods) or failed.get("message") or failed.get("reason") or "failed"
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
