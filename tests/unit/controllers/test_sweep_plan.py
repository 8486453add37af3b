"""A Sweep's status and next trials, decided from its trial Runs alone."""

from __future__ import annotations

from typing import Any

from mlkube import layout
from mlkube.api import SweepSpec, parse
from mlkube.api.sweep import SweepPhase
from mlkube.api.trial import Outcome, TrialRun, trial_name, trial_of
from mlkube_operator.controllers.sweep_plan import objective_points, tally, to_prune


def spec_of(**overrides: Any) -> SweepSpec:
    data: dict[str, Any] = {
        "template": {"project": {"path": "/project"}},
        "searchSpace": {"alpha": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.5}},
        "algorithm": "random",
        "objective": {"metric": "rmse", "direction": "minimize"},
        "maxRuns": 5,
        "parallelism": 2,
        "maxFailedRuns": 1,
    }
    data.update(overrides)
    return parse(SweepSpec, data, "spec")


def run(
    index: int, phase: str | None, rmse: float | None = None, **annotations: str
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "runId": f"{index:032x}"}
    if rmse is not None:
        status["metrics"] = {"rmse": {"value": rmse, "timestamp": 1, "step": 0}}
    return {
        "metadata": {
            "name": trial_name("s", index),
            "labels": {layout.SWEEP_LABEL: "s", layout.TRIAL_LABEL: str(index)},
            "annotations": annotations,
        },
        "spec": {"parameters": {"alpha": str(index / 10), "fixed": "1"}},
        "status": status,
    }


def trials(spec: SweepSpec, *runs: dict[str, Any]) -> list[TrialRun]:
    found = [trial_of(r, spec) for r in runs]
    return [t for t in found if t is not None]


def test_trial_of_reads_index_parameters_and_outcome() -> None:
    spec = spec_of()
    trial = trial_of(run(3, "Succeeded", 0.4), spec)
    assert trial is not None
    assert (trial.name, trial.trial.index, trial.trial.parameters) == ("s-t3", 3, {"alpha": "0.3"})
    assert (trial.trial.outcome, trial.trial.value) == (Outcome.COMPLETE, 0.4)
    outcomes = {
        "running": run(0, "Running"),
        "pending": run(0, None),
        "no metric": run(0, "Succeeded"),
        "failed": run(0, "Failed", 0.1),
        "killed": run(0, "Killed", 0.1),
        "pruned": run(0, "Killed", 0.1, **{layout.PRUNED_ANNOTATION: "3"}),
    }
    got = {what: trial_of(r, spec) for what, r in outcomes.items()}
    assert {what: t.trial.outcome for what, t in got.items() if t} == {
        "running": Outcome.RUNNING,
        "pending": Outcome.RUNNING,
        "no metric": Outcome.FAILED,
        "failed": Outcome.FAILED,
        "killed": Outcome.FAILED,
        "pruned": Outcome.PRUNED,
    }


def test_a_run_without_a_trial_index_is_no_trial() -> None:
    stray = run(0, "Running")
    del stray["metadata"]["labels"][layout.TRIAL_LABEL]
    assert trial_of(stray, spec_of()) is None


def test_a_new_sweep_creates_parallelism_trials() -> None:
    result = tally(spec_of(), [])
    assert (result.phase, result.create, result.progress) == (SweepPhase.RUNNING, [0, 1], "0/5")


def test_creates_after_the_highest_index_up_to_max_runs() -> None:
    spec = spec_of()
    result = tally(spec, trials(spec, run(0, "Succeeded", 0.5), run(3, "Running")))
    assert result.create == [4]  # one slot free, and index 3 exists
    full = tally(spec, trials(spec, run(0, "Running"), run(1, "Running")))
    assert full.create == []


def test_best_is_the_lowest_value_and_ties_go_to_the_lower_index() -> None:
    spec = spec_of()
    runs = trials(
        spec, run(0, "Succeeded", 0.5), run(1, "Succeeded", 0.2), run(2, "Succeeded", 0.2)
    )
    best = tally(spec, runs).best
    assert best is not None
    assert (best.run, best.trial, best.value, best.parameters) == ("s-t1", 1, 0.2, {"alpha": "0.1"})
    maximising = spec_of(objective={"metric": "rmse", "direction": "maximize"})
    best = tally(
        maximising, trials(maximising, run(0, "Succeeded", 0.5), run(1, "Succeeded", 0.2))
    ).best
    assert best is not None
    assert best.run == "s-t0"


def test_succeeds_when_every_planned_trial_has_finished() -> None:
    spec = spec_of(maxRuns=2)
    result = tally(spec, trials(spec, run(0, "Succeeded", 0.5), run(1, "Killed")))
    assert (result.phase, result.create, result.progress) == (SweepPhase.SUCCEEDED, [], "2/2")
    assert result.counts == {
        "trials": 2,
        "running": 0,
        "succeeded": 1,
        "failed": 0,
        "killed": 1,
        "pruned": 0,
    }


def test_a_grid_smaller_than_max_runs_ends_with_the_grid() -> None:
    spec = spec_of(algorithm="grid", maxRuns=10)  # alpha 0, 0.5, 1: three points
    assert tally(spec, []).progress == "0/3"
    done = trials(spec, *(run(i, "Succeeded", 0.1) for i in range(3)))
    assert tally(spec, done).phase == SweepPhase.SUCCEEDED


def test_fails_past_max_failed_runs_and_creates_nothing() -> None:
    spec = spec_of()
    result = tally(spec, trials(spec, run(0, "Failed"), run(1, "Failed")))
    assert (result.phase, result.create) == (SweepPhase.FAILED, [])
    assert result.message == "2 trials failed, more than maxFailedRuns (1)"


def test_objective_points_are_finite_unique_and_in_step_order() -> None:
    rows = [
        ("rmse", 2.0, 5, 1, None, None, None),
        ("rmse", 3.0, 4, 0, None, None, None),
        ("rmse", 2.0, 5, 1, None, None, None),  # a compaction's copy
        ("rmse", float("nan"), 6, 2, None, None, None),
    ]
    assert objective_points(rows) == [(0, 3.0), (1, 2.0)]


def test_to_prune_names_the_trials_worse_than_the_median_with_their_step() -> None:
    spec = spec_of(earlyStopping={"minSteps": 2, "startupTrials": 2})
    completed = [[(0, 2.0), (1, 1.0)], [(0, 2.2), (1, 1.2)]]
    running = {"s-t2": [(0, 9.0), (1, 8.0)], "s-t3": [(0, 1.5), (1, 1.1)], "s-t4": [(0, 9.0)]}
    assert to_prune(spec, running, completed) == {"s-t2": 1}  # s-t4: too few steps
    assert to_prune(spec_of(), running, completed) == {}  # no early stopping


def test_a_trial_that_succeeded_without_the_objective_is_named_in_the_message() -> None:
    spec = spec_of(maxRuns=2)
    result = tally(spec, trials(spec, run(0, "Succeeded", 0.5), run(1, "Succeeded")))
    assert result.phase == SweepPhase.SUCCEEDED
    assert result.best is not None
    assert result.best.run == "s-t0"
    assert result.message == (
        "1 trials succeeded without logging rmse (not candidates for best): s-t1"
    )


def test_a_suspended_sweep_creates_nothing_until_all_its_trials_have_ended() -> None:
    spec = spec_of(suspend=True)
    plan = tally(spec, trials(spec, run(0, "Succeeded", 0.5), run(1, "Running")))
    assert (plan.phase, plan.create, plan.counts["running"]) == (SweepPhase.SUSPENDED, [], 1)
    finished = [run(i, "Succeeded", 0.5) for i in range(5)]
    # Every planned trial ended: suspended or not, the sweep is done.
    assert tally(spec, trials(spec, *finished)).phase == SweepPhase.SUCCEEDED
    failed = [run(0, "Failed"), run(1, "Failed")]
    assert tally(spec, trials(spec, *failed)).phase == SweepPhase.FAILED
