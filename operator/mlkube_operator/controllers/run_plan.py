"""What to do about a project Run, decided from what was read: pure functions, no I/O.

``plan_run`` takes the Run, its Experiment's id and artifact location, its Job and pods (all from
the operator's indexes) and returns a ``Plan``: the Job to create, the suspend value to set on it,
the status fields to write, the Events to post. The reconciler (controllers/run.py) carries it out.
Level-triggered: the same inputs give the same plan, and a plan whose writes already happened is
empty, so any number of events for a Run cost no request once the Run says what the world says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlkube.api import Run, RunPhase
from mlkube.api.common import ConditionStatus
from mlkube_operator.controllers.context import iso, ready_condition
from mlkube_operator.controllers.run_status import TERMINAL, Observed, observe
from mlkube_operator.resources import distributed
from mlkube_operator.resources.run import (
    MAIN_CONTAINER,
    JobSettings,
    RunIdentity,
    build_job,
    job_name,
    run_image,
)

Obj = dict[str, Any]
Event = tuple[str, str, str]  # (type, reason, message)
READY_BY_PHASE = {
    RunPhase.SUCCEEDED: ConditionStatus.TRUE,
    RunPhase.FAILED: ConditionStatus.FALSE,
    RunPhase.KILLED: ConditionStatus.FALSE,
}


@dataclass(frozen=True)
class Plan:
    """The writes one reconcile of a Run makes; an empty plan makes no request."""

    create_job: Obj | None = None
    create_service: Obj | None = None  # a distributed Run's headless Service, before its Job
    suspend_job: bool | None = None
    foreign_job: str | None = None  # a Job of the Run's name that the Run does not own
    status: Obj | None = None  # a merge patch of the Run's status (lifecycle fields only)
    events: list[Event] = field(default_factory=list)
    phase: str | None = None  # the phase the Run has after the plan (for the metrics)

    @property
    def empty(self) -> bool:
        return (
            self.create_job is None
            and self.suspend_job is None
            and self.foreign_job is None
            and self.status is None
        )


def run_id_of(obj: Obj) -> str:
    """A project Run's MLflow id: its uid without dashes (32 hex), stable across restarts."""
    existing = (obj.get("status") or {}).get("runId")
    return str(existing) if existing else str(obj["metadata"]["uid"]).replace("-", "")


def settled(obj: Obj) -> bool:
    """Nothing for the operator to do: the Run is going away, is tracking-only (the tracking
    server owns it), or has ended (a terminal phase never changes)."""
    if obj["metadata"].get("deletionTimestamp") or not (obj.get("spec") or {}).get("project"):
        return True
    phase = (obj.get("status") or {}).get("phase")
    return phase in {p.value for p in TERMINAL}


# While a Run runs, its duration moves in steps of this many seconds: a status write per step
# (at most), not one per event that happens to land in a new second.
RUNNING_STEP = 30


def duration(start: datetime | None, end: datetime | None, at: datetime) -> str | None:
    """How long the run took, or (while it runs) has taken, in RUNNING_STEP steps."""
    if start is None:
        return None
    seconds = int(((end or at) - start).total_seconds())
    if end is None:
        seconds -= seconds % RUNNING_STEP
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def _same_conditions(old: list[Obj], new: list[Obj]) -> bool:
    def strip(conditions: list[Obj]) -> list[Obj]:
        return [{**c, "lastTransitionTime": None} for c in conditions]

    return strip(old) == strip(new)


def invalid_plan(obj: Obj, problems: list[str], at: datetime) -> Plan:
    """A Run whose spec cannot run: Failed with the problems, once (never retried)."""
    message = "; ".join(problems)
    status = obj.get("status") or {}
    if status.get("phase") == RunPhase.FAILED.value and status.get("message") == message:
        return Plan(phase=RunPhase.FAILED.value)
    generation = obj["metadata"].get("generation")
    conditions = ready_condition(
        status.get("conditions") or [],
        ConditionStatus.FALSE,
        "InvalidSpec",
        message,
        generation,
        at,
    )
    patch = {
        "runId": run_id_of(obj),
        "phase": RunPhase.FAILED.value,
        "endTime": iso(at),
        "message": message[:4000],
        "observedGeneration": generation,
        "conditions": conditions,
    }
    return Plan(
        status=patch,
        events=[("Warning", "InvalidSpec", message[:1000])],
        phase=RunPhase.FAILED.value,
    )


def job_image(job: Obj | None) -> str | None:
    """The image of the Job's main container (what runs, even if the default changed since)."""
    containers = (((job or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in containers.get("containers") or []:
        if container.get("name") == MAIN_CONTAINER:
            return str(container.get("image") or "") or None
    return None


def status_patch(  # noqa: PLR0917  (the parts of a Run's lifecycle status)
    status: Obj,
    run: Run,
    ids: RunIdentity,
    seen: Observed,
    artifact_uri: str,
    at: datetime,
    image: str | None = None,
) -> Obj | None:
    """The lifecycle fields ``seen`` implies, or None when ``status`` already says them."""
    ready = READY_BY_PHASE.get(seen.phase, ConditionStatus.UNKNOWN)
    conditions = ready_condition(
        status.get("conditions") or [],
        ready,
        seen.reason or seen.phase.value,
        seen.message or "",
        run.metadata.generation,
        at,
    )
    new = {
        "runId": ids.run_id,
        "phase": seen.phase.value,
        "startTime": iso(seen.start_time),
        "endTime": iso(seen.end_time),
        "duration": duration(seen.start_time, seen.end_time, at),
        "artifactUri": artifact_uri,
        "jobName": job_name(run.metadata.name),
        # The tracking server shows it as the mlkube.kubernetes.image tag (mlkube.projects.tags).
        "image": image,
        "message": seen.message,
        "observedGeneration": run.metadata.generation,
        "conditions": conditions,
    }
    unchanged = all(status.get(k) == v for k, v in new.items() if k != "conditions")
    if unchanged and _same_conditions(status.get("conditions") or [], conditions):
        return None
    return new


def _owned(job: Obj, uid: str | None) -> bool:
    owners = (job.get("metadata") or {}).get("ownerReferences") or []
    return any(o.get("uid") == uid for o in owners)


def plan_run(  # noqa: PLR0917  (everything a Run's reconcile reads)
    obj: Obj,
    run: Run,
    ids: RunIdentity,
    artifact_uri: str,
    job: Obj | None,
    pods: list[Obj],
    settings: JobSettings,
    at: datetime,
) -> Plan:
    """What to do about a valid, unsettled project Run, given its Job (None: none seen) and pods."""
    status = obj.get("status") or {}
    name = run.metadata.name
    create: Obj | None = None
    service: Obj | None = None
    suspend: bool | None = None
    events: list[Event] = []
    if job is not None:
        if not _owned(job, run.metadata.uid):
            return Plan(
                foreign_job=f"Job {job_name(name)} exists but belongs to another object; "
                "delete it (kubectl delete job) and the Run goes on"
            )
        if bool((job.get("spec") or {}).get("suspend")) != run.spec.suspend:
            suspend = run.spec.suspend
    elif not (run.spec.suspend and not status.get("jobName")):
        # (A Run suspended before it ever started gets no Job.)
        create = build_job(run, ids, settings)
        if distributed.distributed(run.spec):
            service = distributed.build_service(job_name(name), run)
        events.append(("Normal", "JobCreated", f"created Job {job_name(name)}"))
    current = RunPhase(status["phase"]) if status.get("phase") else None
    seen = observe(current, run.spec.suspend, job, pods, at)
    image = job_image(job) or run_image(run, settings)
    patch = None if seen is None else status_patch(status, run, ids, seen, artifact_uri, at, image)
    if patch is not None and seen is not None and status.get("phase") != seen.phase.value:
        events.extend(seen.events)
    phase = seen.phase.value if seen is not None else status.get("phase")
    return Plan(
        create_job=create,
        create_service=service,
        suspend_job=suspend,
        status=patch,
        events=events,
        phase=phase,
    )
