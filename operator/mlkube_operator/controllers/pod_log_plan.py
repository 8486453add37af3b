"""What to keep of a project Run's pods once they end, and where: pure functions, no I/O.

A pod's output is gone with the pod (a Job's ``ttlSecondsAfterFinished``, its deadline, a
``kubectl delete``), so the operator keeps it as an artifact of the run (issue 14): the Job's pod
template carries the finalizer ``mlkube.io/pod-logs`` (``layout.POD_LOGS_FINALIZER``), which holds
every pod until its log is saved (controllers/pod_logs.py does the reading and writing).

- A pod is saved when it has ended (phase Succeeded or Failed) or is being deleted (a deleted
  pod's containers are removed soon after they stop, so its log is read at once).
- The log read is the run's container (``main``); the init container's (``prepare``) when main
  never started, as when fetching the project failed. Reads are bounded by ``limitBytes``: at most
  LIMIT bytes are kept, and the artifact's last line says when the log was longer.
- A pod's artifact is ``mlkube/pod-logs/attempt-<n>-<pod>.log``, ``n`` its place among the run's
  saved pods, recorded in ``status.podLogs`` before the finalizer goes: a retry after a crash
  writes the same key again and records it once.
- Once the Run has ended and none of its pods waits, its condition ``PodLogsSaved`` says what
  was saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlkube import layout
from mlkube.api.common import ConditionStatus
from mlkube.sources import SourceRefused, SourceRule, parse_s3_uri
from mlkube.storage import S3Location
from mlkube_operator.controllers.context import set_condition
from mlkube_operator.controllers.run_status import TERMINAL
from mlkube_operator.resources.run import MAIN_CONTAINER, PREPARE_CONTAINER

Obj = dict[str, Any]
FINALIZER = layout.POD_LOGS_FINALIZER
# The most of one log kept: a run that prints more keeps its first LIMIT bytes.
LIMIT = 8 * 2**20
CONDITION = "PodLogsSaved"
# The condition's message names this many artifacts at most (status.podLogs has them all).
NAMED = 10


def awaiting(pod: Obj) -> bool:
    """The pod's log is still to be saved (it holds the operator's finalizer)."""
    return FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or [])


def finished(pod: Obj) -> bool:
    """Its log will not grow any more, or is about to go: ended, or being deleted."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    return bool(meta.get("deletionTimestamp")) or status.get("phase") in {"Succeeded", "Failed"}


def created(pod: Obj) -> tuple[str, str]:
    """Sort key: the order the Job made its pods in (the name breaks ties of one second)."""
    meta = pod.get("metadata") or {}
    return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")


def ended(run: Obj) -> bool:
    """The Run's phase is terminal."""
    return (run.get("status") or {}).get("phase") in {p.value for p in TERMINAL}


def unconcluded(run: Obj) -> bool:
    """A project Run that has ended (and is not being deleted) without its PodLogsSaved
    condition: its pods' logs may still be due."""
    if run["metadata"].get("deletionTimestamp") or not (run.get("spec") or {}).get("project"):
        return False
    conditions = (run.get("status") or {}).get("conditions") or []
    return ended(run) and not any(c.get("type") == CONDITION for c in conditions)


@dataclass(frozen=True)
class Source:
    """Which container's log to read (None: none ran) and a first line saying what the artifact
    holds when it is not simply the run's output ("" then)."""

    container: str | None
    note: str = ""


def _containers(pod: Obj) -> dict[str, Obj]:
    status = pod.get("status") or {}
    every = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    return {str(c.get("name")): c for c in every}


def _started(container: Obj | None) -> bool:
    if container is None:
        return False
    state, last = container.get("state") or {}, container.get("lastState") or {}
    return any(
        x is not None
        for x in (state.get("running"), state.get("terminated"), last.get("terminated"))
    )


def _waiting(container: Obj | None) -> str:
    waiting = ((container or {}).get("state") or {}).get("waiting") or {}
    reason = str(waiting.get("reason") or "")
    message = str(waiting.get("message") or "")
    return f"{reason}: {message}" if reason and message else reason or message


def source(pod: Obj) -> Source:
    """What to read of ``pod``: its main container, else its init container, else nothing."""
    name = (pod.get("metadata") or {}).get("name")
    containers = _containers(pod)
    main = containers.get(MAIN_CONTAINER)
    if _started(main):
        running = ((main or {}).get("state") or {}).get("running") is not None
        if running and (pod.get("metadata") or {}).get("deletionTimestamp"):
            return Source(
                MAIN_CONTAINER,
                "[mlkube: read while the pod was being deleted and its container still ran: "
                "its last lines may be missing]",
            )
        return Source(MAIN_CONTAINER)
    prepare = containers.get(PREPARE_CONTAINER)
    if _started(prepare):
        return Source(
            PREPARE_CONTAINER,
            f"[mlkube: container {MAIN_CONTAINER} never started; this is the log of init "
            f"container {PREPARE_CONTAINER}, which fetches the project]",
        )
    status = pod.get("status") or {}
    why = (
        _waiting(prepare)
        or _waiting(main)
        or str(status.get("message") or status.get("reason") or "")
        or f"phase {status.get('phase') or 'unknown'}"
    )
    return Source(None, f"[mlkube: no container of pod {name} started ({why})]")


def termination_message(pod: Obj, container: str) -> str:
    """What the kubelet kept of a stopped container: its termination message (the end of its
    output when it failed: the Job's containers say FallbackToLogsOnError)."""
    found = _containers(pod).get(container) or {}
    for state in (found.get("state") or {}, found.get("lastState") or {}):
        terminated = state.get("terminated") or {}
        if terminated.get("message"):
            return str(terminated["message"])
    return ""


def artifact(
    source: Source,
    log: bytes | None,
    unreadable: str = "",
    kept: str = "",
    limit: int = LIMIT,
) -> tuple[bytes, bool]:
    """The artifact's bytes and whether the log was cut. ``log`` is what the read returned (at
    most ``limit`` + 1 bytes asked for); None when there was nothing to read, or the read was
    refused with ``unreadable`` (then ``kept``, the termination message, stands in for it)."""
    head = [source.note] if source.note else []
    if log is None and source.container is not None:
        head.append(
            f"[mlkube: the log of container {source.container} could not be read ({unreadable}); "
            "below is its termination message, the end of its output the kubelet kept]"
        )
        log = kept.encode()
    body = log or b""
    truncated = len(body) > limit
    if truncated:
        body = body[:limit]
    prefix = "".join(f"{line}\n" for line in head).encode()
    if truncated:
        ending = b"" if body.endswith(b"\n") else b"\n"
        mib = limit / 2**20
        body += (
            f"{ending.decode()}[mlkube: log truncated: only its first {limit} bytes "
            f"({mib:g} MiB) are kept]\n"
        ).encode()
    return prefix + body, truncated


def location(bucket: str, namespace: str, artifact_uri: str, path: str) -> S3Location:
    """Where the artifact ``path`` of a run of ``namespace`` with ``artifact_uri`` is stored:
    the key the tracking server's proxy serves for an ``mlflow-artifacts:/`` URI; for an
    ``s3://`` one (an experiment's own location) only inside the namespace's prefix of the
    platform's bucket, since the operator's key reaches every namespace. LayoutError otherwise."""
    joined = f"{artifact_uri.rstrip('/')}/{path}"
    if artifact_uri.startswith(layout.ARTIFACTS_ROOT):
        parsed = layout.parse_artifact_path(joined.removeprefix(layout.ARTIFACTS_ROOT))
        if parsed is None or parsed.owner is not layout.Owner.RUN:
            raise layout.LayoutError(f"{artifact_uri!r} is not a run's artifact URI")
        return S3Location(bucket, parsed.key(namespace))
    own = SourceRule(bucket).namespace_prefix(namespace)
    try:
        target = parse_s3_uri(joined)
    except SourceRefused:
        target = None
    if target is None or not own.holds(target):
        raise layout.LayoutError(
            f"the run's artifact URI {artifact_uri[:300]!r} is not in namespace {namespace}'s "
            f"prefix {own} of the platform's bucket, the only place the operator writes a run's "
            "files to"
        )
    return target


def entry(pod: str, attempt: int, path: str, size: int, truncated: bool) -> Obj:
    """One item of status.podLogs (mlkube.api.run.PodLog, on the wire)."""
    return {"pod": pod, "attempt": attempt, "path": path, "size": size, "truncated": truncated}


def conclusion(status: Obj, generation: int | None, at: datetime) -> list[Obj] | None:
    """The Run's conditions with PodLogsSaved saying what status.podLogs holds; None when they
    say it already."""
    saved = [str(e.get("path")) for e in status.get("podLogs") or []]
    if saved:
        named = ", ".join(saved[:NAMED]) + (
            f" and {len(saved) - NAMED} more" if saved[NAMED:] else ""
        )
        state, reason = ConditionStatus.TRUE, "Saved"
        message = f"the output of {len(saved)} pod(s) is kept as artifacts of the run: {named}"
    else:
        state, reason = ConditionStatus.FALSE, "NoPodLogs"
        message = (
            "no pod log was saved: the run had no pod, or its pods were gone before the "
            "operator saw them end"
        )
    conditions = status.get("conditions") or []
    old = next((c for c in conditions if c.get("type") == CONDITION), None)
    if old is not None and (old.get("status"), old.get("reason"), old.get("message")) == (
        state.value,
        reason,
        message,
    ):
        return None
    return set_condition(conditions, CONDITION, state, reason, message, generation, at)
