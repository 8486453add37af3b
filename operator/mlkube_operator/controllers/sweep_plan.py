"""Where a Sweep stands, decided from its trial Runs: pure functions, no I/O (docs/sweeps.md).

The sweep controller (controllers/sweep.py) reads the Sweep and its trial Runs from its indexes,
turns each Run into a ``TrialRun`` with ``mlkube.api.trial.trial_of`` (the SDK's reading too, so
`mlkube sweeps get` shows the trials as the controller counts them), and asks ``tally`` for the
status and the indexes of the trials to create next. The Runs are the record: nothing here depends
on what an earlier reconcile decided, so a restarted operator decides the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlkube.api import RunPhase
from mlkube.api.sweep import Algorithm, BestTrial, Direction, SweepPhase, SweepSpec
from mlkube.api.trial import ACTIVE, Outcome, TrialRun
from mlkube_operator.controllers.sweep_search import grid_size, should_stop


def planned_runs(spec: SweepSpec) -> int:
    """How many trials the sweep runs in all: maxRuns, or fewer when the grid is smaller."""
    if spec.algorithm == Algorithm.GRID:
        return min(spec.max_runs, grid_size(spec.search_space))
    return spec.max_runs


@dataclass(frozen=True)
class Tally:
    """The status a Sweep's trials add up to, and the trials to create next."""

    phase: SweepPhase
    counts: dict[str, int]
    progress: str
    best: BestTrial | None
    create: list[int] = field(default_factory=list)
    message: str | None = None


def best_of(spec: SweepSpec, runs: Sequence[TrialRun]) -> BestTrial | None:
    """The completed trial with the best objective value; on a tie, the lowest index."""
    done = [r for r in runs if r.trial.outcome == Outcome.COMPLETE and r.trial.value is not None]
    if not done:
        return None
    sign = 1.0 if spec.objective.direction == Direction.MINIMIZE else -1.0
    best = min(done, key=lambda r: (sign * (r.trial.value or 0.0), r.trial.index))
    return BestTrial(
        run=best.name,
        trial=best.trial.index,
        run_id=best.run_id,
        parameters=best.trial.parameters,
        value=best.trial.value or 0.0,
    )


def tally(spec: SweepSpec, runs: Sequence[TrialRun]) -> Tally:
    """Counts, best trial, phase, and the indexes of the trials to create now."""
    phases = [r.phase for r in runs]
    counts = {
        "trials": len(runs),
        "running": sum(p in ACTIVE for p in phases),
        "succeeded": phases.count(RunPhase.SUCCEEDED.value),
        "failed": phases.count(RunPhase.FAILED.value),
        "killed": phases.count(RunPhase.KILLED.value),
        "pruned": sum(r.trial.outcome == Outcome.PRUNED for r in runs),
    }
    planned = planned_runs(spec)
    progress = f"{counts['trials'] - counts['running']}/{planned}"
    best = best_of(spec, runs)
    if counts["failed"] > spec.max_failed_runs:
        failures = (
            f"{counts['failed']} trials failed, more than maxFailedRuns ({spec.max_failed_runs})"
        )
        return Tally(SweepPhase.FAILED, counts, progress, best, message=failures)
    following = max((r.trial.index for r in runs), default=-1) + 1
    room = max(spec.parallelism - counts["running"], 0)
    create = list(range(following, min(following + room, planned)))
    unscored = [
        r.name
        for r in runs
        if r.phase == RunPhase.SUCCEEDED.value and r.trial.outcome == Outcome.FAILED
    ]
    message = (
        f"{len(unscored)} trials succeeded without logging {spec.objective.metric} "
        f"(not candidates for best): {', '.join(unscored[:10])}"
        if unscored
        else None
    )
    if not create and counts["running"] == 0 and following >= planned:
        return Tally(SweepPhase.SUCCEEDED, counts, progress, best, message=message)
    if spec.suspend:  # nothing is created; the controller stops the running trials
        return Tally(SweepPhase.SUSPENDED, counts, progress, best, message=message)
    return Tally(SweepPhase.RUNNING, counts, progress, best, create, message)


def objective_points(rows: Iterable[Sequence[Any]]) -> list[tuple[int, float]]:
    """The (step, value) points of a trial's objective history (``mlkube.metric_chunks`` rows),
    finite values only, each point once, in step order."""
    points = {(int(r[3]), float(r[1])) for r in rows if math.isfinite(float(r[1]))}
    return sorted(points)


def to_prune(
    spec: SweepSpec,
    running: Mapping[str, Sequence[tuple[int, float]]],
    completed: Sequence[Sequence[tuple[int, float]]],
) -> dict[str, int]:
    """The running trials (by Run name) that early stopping stops now, with the step each was
    judged at; none when the Sweep has no early stopping."""
    rule = spec.early_stopping
    if rule is None:
        return {}
    direction = spec.objective.direction
    return {
        name: max(step for step, _ in history)
        for name, history in running.items()
        if history
        and should_stop(history, completed, direction, rule.min_steps, rule.startup_trials)
    }
