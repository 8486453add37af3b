"""A Sweep's trials as its child Runs record them: pure, on the Runs' wire form (docs/sweeps.md).

One reading of a trial Run serves both sides: the operator's sweep controller feeds it to the
sampler and to the status it writes, and the SDK and `mlkube sweeps get` show it. A trial is a
Run labelled ``mlkube.io/sweep=<sweep>`` and ``mlkube.io/trial=<index>``; its parameters are
read back from its spec, never recomputed, and its value is the objective metric it logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mlkube import layout
from mlkube.api.run import RunPhase
from mlkube.api.sweep import SweepSpec

Obj = dict[str, Any]
# A trial's Run has not ended: pending (no phase yet, or Pending) or running.
ACTIVE = {None, RunPhase.PENDING.value, RunPhase.RUNNING.value}


def trial_name(sweep: str, index: int) -> str:
    """Trial ``index``'s Run: its name is its identity, so a repeated create cannot duplicate it."""
    return f"{sweep}-t{index}"


class Outcome(StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"  # succeeded and logged the objective
    PRUNED = "pruned"  # stopped by early stopping
    FAILED = "failed"  # failed, killed, or succeeded without logging the objective


@dataclass(frozen=True)
class Trial:
    """One trial as its child Run records it: the parameters in its spec, and how it ended."""

    index: int
    parameters: dict[str, str]
    outcome: Outcome
    value: float | None = None
    # Intermediate objective values by step, for a pruned trial (what TPE may learn from).
    history: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialRun:
    """A trial and the facts about its Run that the status reports. ``latest`` is the
    objective's latest logged value whatever the phase (a running trial's value so far);
    ``trial.value`` only counts once the trial completed."""

    trial: Trial
    name: str
    phase: str | None
    run_id: str | None
    latest: float | None = None
    stopping: bool = False  # its spec.suspend is set: it is being stopped


def trial_of(run: Obj, spec: SweepSpec) -> TrialRun | None:
    """The trial a child Run records, or None when the Run carries no trial index."""
    metadata = run.get("metadata") or {}
    try:
        index = int((metadata.get("labels") or {})[layout.TRIAL_LABEL])
    except (KeyError, ValueError):
        return None
    status = run.get("status") or {}
    phase = status.get("phase")
    metric = (status.get("metrics") or {}).get(spec.objective.metric) or {}
    value = None if metric.get("nonFinite") or "value" not in metric else float(metric["value"])
    if phase in ACTIVE:
        outcome = Outcome.RUNNING
    elif phase == RunPhase.SUCCEEDED.value and value is not None:
        outcome = Outcome.COMPLETE
    elif phase == RunPhase.KILLED.value and layout.PRUNED_ANNOTATION in (
        metadata.get("annotations") or {}
    ):
        outcome = Outcome.PRUNED
    else:
        outcome = Outcome.FAILED
    parameters = (run.get("spec") or {}).get("parameters") or {}
    searched = {name: str(parameters[name]) for name in spec.search_space if name in parameters}
    return TrialRun(
        trial=Trial(index, searched, outcome, value if outcome == Outcome.COMPLETE else None),
        name=str(metadata.get("name", "")),
        phase=phase,
        run_id=status.get("runId"),
        latest=value,
        stopping=bool((run.get("spec") or {}).get("suspend")),
    )
