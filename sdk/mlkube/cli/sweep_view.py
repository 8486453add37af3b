"""How `mlkube sweeps get|best` and `mlkube sweep --wait` show a Sweep: a summary of its spec and
status, a table of its trials, and the trials' news as the sweep goes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import click

from mlkube.api import Sweep
from mlkube.api.sweep import BestTrial, ParameterType, SearchParameter
from mlkube.api.trial import ACTIVE, Outcome, TrialRun

if TYPE_CHECKING:
    from mlkube.client import Client


def number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def assignments(parameters: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in parameters.items())


def searched(name: str, parameter: SearchParameter) -> str:
    """One parameter of the search space in a few words: ``alpha float 0.0001..1 log``."""
    if parameter.type == ParameterType.CATEGORICAL:
        return f"{name} {'|'.join(parameter.values or [])}"
    text = f"{name} {parameter.type} {number(parameter.low)}..{number(parameter.high)}"
    if parameter.step is not None:
        text += f" step {number(parameter.step)}"
    return text + (" log" if parameter.log else "")


def best_text(best: BestTrial, metric: str) -> str:
    return f"trial {best.trial} ({best.run}): {metric}={number(best.value)} " + assignments(
        best.parameters
    )


def summary(sweep: Sweep) -> list[tuple[str, str]]:
    """The spec and status as (label, text) lines, as `kubectl describe` starts."""
    spec, status = sweep.spec, sweep.status
    stopping = spec.early_stopping
    project = spec.template.project
    where = ""
    if project is not None:
        where = project.uri or (project.git.url if project.git else None) or project.path or ""
    lines = [
        ("Name", str(sweep.metadata.name)),
        ("Namespace", str(sweep.metadata.namespace or "")),
        ("Phase", str(status.phase or "Pending")),
        (
            "Progress",
            f"{status.progress or '0/' + str(spec.max_runs)} finished, {status.running} running "
            f"(parallelism {spec.parallelism})",
        ),
        (
            "Trials",
            f"{status.trials} made: {status.succeeded} succeeded, {status.failed} failed "
            f"(at most {spec.max_failed_runs}), {status.killed} killed, {status.pruned} pruned",
        ),
        (
            "Algorithm",
            str(spec.algorithm) + (f" (seed {spec.seed})" if spec.seed is not None else ""),
        ),
        ("Objective", f"{spec.objective.direction} {spec.objective.metric}"),
        ("Search space", "; ".join(searched(n, p) for n, p in spec.search_space.items())),
        (
            "Template",
            f"experiment {spec.template.experiment}, entry point {spec.template.entry_point}, "
            f"project {where}",
        ),
    ]
    if stopping is not None:
        lines.append(
            (
                "Early stopping",
                f"{stopping.rule} rule, from step {stopping.min_steps}, once "
                f"{stopping.startup_trials} trials completed",
            )
        )
    if status.best is not None:
        lines.append(("Best", best_text(status.best, spec.objective.metric)))
    if status.parent_run_id:
        lines.append(("MLflow run", status.parent_run_id))
    if status.message:
        lines.append(("Message", status.message))
    return lines


def print_summary(sweep: Sweep) -> None:
    lines = summary(sweep)
    width = max(len(label) for label, _ in lines) + 2
    for label, text in lines:
        click.echo(f"{label + ':':<{width}}{text}")


def note(trial: TrialRun, best: BestTrial | None) -> str:
    """What sets a trial apart: the best one, or stopped by early stopping."""
    if best is not None and best.run == trial.name:
        return "best"
    return "pruned" if trial.trial.outcome == Outcome.PRUNED else ""


def trial_table(sweep: Sweep, trials: Sequence[TrialRun], wide: bool) -> list[list[str]]:
    """TRIAL, RUN, PHASE, one column per searched parameter, the objective's value (a running
    trial's value so far), NOTE (best, pruned); wide adds the MLflow run id."""
    names = list(sweep.spec.search_space)
    header = ["TRIAL", "RUN", "PHASE", *names, sweep.spec.objective.metric, "NOTE"]
    if wide:
        header.append("RUN ID")
    table = [header]
    for trial in trials:
        row = [
            str(trial.trial.index),
            trial.name,
            trial.phase or "Pending",
            *(trial.trial.parameters.get(n, "") for n in names),
            number(trial.latest),
            note(trial, sweep.status.best),
        ]
        if wide:
            row.append(trial.run_id or "")
        table.append(row)
    return table


def progress_reporter(client: Client, say: Callable[[str], None]) -> Callable[[Sweep], None]:
    """For a wait's progress: on each change of the Sweep's counts, read its trials once and
    say which were made and which ended since the last look, and the best so far."""
    phases: dict[int, str | None] = {}
    last: list[object] = [None, None]

    def report(sweep: Sweep) -> None:
        status = sweep.status
        counts = (status.trials, status.running, status.succeeded, status.failed, status.killed)
        if counts != last[0]:
            last[0] = counts
            metric = sweep.spec.objective.metric
            for trial in client.trials(sweep):
                index = trial.trial.index
                ended = trial.phase not in ACTIVE
                if index not in phases:
                    say(
                        f"trial {index} created: {trial.name} {assignments(trial.trial.parameters)}"
                    )
                if ended and phases.get(index) in ACTIVE:
                    value = f" {metric}={number(trial.latest)}" if trial.latest is not None else ""
                    pruned = " (pruned)" if trial.trial.outcome == Outcome.PRUNED else ""
                    say(f"trial {index} {trial.phase}{pruned}{value}")
                phases[index] = trial.phase
        if status.best is not None and status.best != last[1]:
            last[1] = status.best
            say(f"best so far: {best_text(status.best, sweep.spec.objective.metric)}")

    return report
