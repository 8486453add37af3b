"""What a Sweep's status and its parent run's lifecycle fields say, decided from a ``Tally``:
pure functions, no I/O (docs/sweeps.md). Each returns None when the object already says it, so a
re-plan that changes nothing writes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mlkube.api import RunPhase
from mlkube.api.common import ConditionStatus
from mlkube.api.sweep import SweepPhase
from mlkube_operator.controllers.context import iso, set_condition
from mlkube_operator.controllers.sweep_plan import Tally

Obj = dict[str, Any]
Event = tuple[str, str, str]  # (type, reason, message)
PARENT_PHASE = {
    SweepPhase.RUNNING: RunPhase.RUNNING,
    SweepPhase.SUSPENDED: RunPhase.KILLED,  # MLflow's KILLED until resumed, as a killed run
    SweepPhase.SUCCEEDED: RunPhase.SUCCEEDED,
    SweepPhase.FAILED: RunPhase.FAILED,
}


def _without_times(conditions: Sequence[Obj]) -> list[Obj]:
    return [{**c, "lastTransitionTime": None} for c in conditions]


def sweep_status(  # noqa: PLR0917  (the parts of a Sweep's status)
    status: Obj,
    tally: Tally,
    parent_run_id: str | None,
    generation: int | None,
    at: datetime,
    reason: str | None = None,
) -> Obj | None:
    """The Sweep's status for ``tally``, or None when ``status`` already says it."""
    phase = tally.phase
    message = f"{tally.progress} trials finished"
    if phase == SweepPhase.SUSPENDED:
        message = f"{message}; suspended (spec.suspend): set it to false to go on"
    if tally.message:
        message = tally.message if phase == SweepPhase.FAILED else f"{message}; {tally.message}"
    if phase == SweepPhase.FAILED:
        ready = (ConditionStatus.FALSE, reason or "TooManyFailures")
    else:
        ready = (ConditionStatus.TRUE, phase.value)
    done = phase not in (SweepPhase.RUNNING, SweepPhase.SUSPENDED)
    complete = (ConditionStatus.TRUE if done else ConditionStatus.FALSE, phase.value)
    conditions = set_condition(
        status.get("conditions") or [], "Ready", ready[0], ready[1], message, generation, at
    )
    conditions = set_condition(
        conditions, "Complete", complete[0], complete[1], message, generation, at
    )
    new: Obj = {
        "phase": phase.value,
        "parentRunId": parent_run_id,
        **tally.counts,
        "progress": tally.progress,
        "best": tally.best.to_wire() if tally.best else None,
        "message": message[:4096],
        "observedGeneration": generation,
    }
    same = all(status.get(k) == v for k, v in new.items())
    old = _without_times(status.get("conditions") or [])
    if same and old == _without_times(conditions):
        return None
    return {**new, "conditions": conditions}


def sweep_events(status: Obj, tally: Tally) -> list[Event]:
    """Events for a change of the Sweep's phase (none while it stays in one)."""
    if status.get("phase") == tally.phase.value:
        return []
    best = f"; best {tally.best.value:g} ({tally.best.run})" if tally.best else ""
    if tally.phase == SweepPhase.SUCCEEDED:
        return [("Normal", "SweepSucceeded", f"{tally.progress} trials finished{best}")]
    if tally.phase == SweepPhase.FAILED:
        return [("Warning", "SweepFailed", tally.message or "the sweep failed")]
    if tally.phase == SweepPhase.SUSPENDED:
        running = tally.counts.get("running", 0)
        stopping = f"; stopping its {running} running trials" if running else ""
        return [("Normal", "SweepSuspended", f"{tally.progress} trials finished{stopping}")]
    if status.get("phase") == SweepPhase.SUSPENDED.value:
        return [("Normal", "SweepResumed", f"{tally.progress} trials finished; going on")]
    return []


def parent_status(  # noqa: PLR0917  (the lifecycle fields of a run)
    status: Obj,
    run_id: str,
    phase: SweepPhase,
    started: str | None,
    artifact_uri: str,
    at: datetime,
) -> Obj | None:
    """The parent run's lifecycle fields while the sweep is in ``phase`` (started at
    ``started``, the Sweep's creation), or None when ``status`` already says them. The end time
    is the first moment the sweep was seen ended, kept afterwards."""
    run_phase = PARENT_PHASE[phase].value
    ended = phase != SweepPhase.RUNNING
    new = {
        "runId": run_id,
        "phase": run_phase,
        "startTime": status.get("startTime") or started,
        "endTime": (status.get("endTime") or iso(at)) if ended else None,
        "artifactUri": artifact_uri,
    }
    if all(status.get(k) == v for k, v in new.items()):
        return None
    return new
