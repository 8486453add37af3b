"""Which parameters a sweep's next trial runs with, and whether to stop a trial: pure functions.

The sweep controller keeps no search state of its own (docs/sweeps.md): each time it must
suggest, it hands ``suggest`` the trials its child Runs record, and the trial's index. Grid maps
the index to a point of the grid; random and TPE are Optuna's samplers over an in-memory study
re-fed with those trials, seeded per index, so the same spec, seed, index and trials always give
the same parameters, before and after an operator restart.
"""

from __future__ import annotations

import hashlib
import statistics
import warnings
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState, create_trial

from mlkube.api.sweep import (
    Algorithm,
    Direction,
    ParameterType,
    SearchParameter,
    SweepSpec,
    parameter_text,
)
from mlkube.api.trial import Outcome, Trial

# TPE's random start: the trials it samples uniformly before it models the search space.
TPE_STARTUP_TRIALS = 5


def grid_size(space: dict[str, SearchParameter]) -> int:
    """How many points the grid over ``space`` has (the model checked each is finite)."""
    size = 1
    for parameter in space.values():
        size *= parameter.grid_size() or 0
    return size


def grid_point(space: dict[str, SearchParameter], index: int) -> dict[str, str]:
    """The grid's ``index``-th point: the parameters in spec order, the last varying fastest."""
    if not 0 <= index < grid_size(space):
        raise IndexError(f"grid point {index} is outside a grid of {grid_size(space)}")
    point: dict[str, str] = {}
    for name, parameter in reversed(space.items()):
        values = parameter.grid_values()
        index, digit = divmod(index, len(values))
        point[name] = values[digit]
    return {name: point[name] for name in space}


def trial_seed(seed: int, index: int) -> int:
    """The sampler's seed for trial ``index``: a hash, so neighbouring trials are unrelated."""
    digest = hashlib.sha256(f"{seed}/{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def distribution(parameter: SearchParameter) -> BaseDistribution:
    """The Optuna distribution of one searched parameter."""
    if parameter.type == ParameterType.CATEGORICAL:
        return CategoricalDistribution(list(parameter.values or []))
    low, high = parameter.low or 0.0, parameter.high or 0.0  # set: the model checked
    if parameter.type == ParameterType.INT:
        step = int(parameter.step) if parameter.step is not None else 1
        return IntDistribution(int(low), int(high), log=parameter.log, step=step)
    return FloatDistribution(low, high, log=parameter.log, step=parameter.step)


def _internal(parameter: SearchParameter, text: str) -> Any:
    """A Run's parameter string back as the value Optuna sampled, or None when it does not fit
    the search space (a Run edited by hand): such a trial is not fed to the sampler."""
    if parameter.type == ParameterType.CATEGORICAL:
        return text if text in (parameter.values or []) else None
    try:
        value: float = int(text) if parameter.type == ParameterType.INT else float(text)
    except ValueError:
        return None
    low, high = parameter.low or 0.0, parameter.high or 0.0
    return value if low <= value <= high else None


def _frozen(spec: SweepSpec, trial: Trial) -> optuna.trial.FrozenTrial | None:
    space = spec.search_space
    params = {name: _internal(p, trial.parameters.get(name, "")) for name, p in space.items()}
    if any(v is None for v in params.values()):
        return None
    state = {
        Outcome.RUNNING: TrialState.RUNNING,
        Outcome.COMPLETE: TrialState.COMPLETE,
        Outcome.PRUNED: TrialState.PRUNED,
        Outcome.FAILED: TrialState.FAIL,
    }[trial.outcome]
    if state == TrialState.COMPLETE and trial.value is None:
        state = TrialState.FAIL
    return create_trial(
        state=state,
        value=trial.value if state == TrialState.COMPLETE else None,
        params=params,
        distributions={name: distribution(p) for name, p in spec.search_space.items()},
        intermediate_values=trial.history if state == TrialState.PRUNED else None,
    )


def _sampler(algorithm: Algorithm, seed: int) -> optuna.samplers.BaseSampler:
    if algorithm == Algorithm.RANDOM:
        return optuna.samplers.RandomSampler(seed=seed)
    # constant_liar: running trials count as bad results, so parallel trials spread out.
    return optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=TPE_STARTUP_TRIALS, constant_liar=True
    )


def suggest(spec: SweepSpec, seed: int, index: int, trials: Sequence[Trial]) -> dict[str, str]:
    """The searched parameters of trial ``index``, as the strings its Run's spec holds.

    ``trials`` are the sweep's other trials, any order; only the algorithm, ``seed``, ``index``
    and these trials decide the answer.
    """
    if spec.algorithm == Algorithm.GRID:
        return grid_point(spec.search_space, index)
    # One line per study created would flood the operator's log; warnings still show.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction = "minimize" if spec.objective.direction == Direction.MINIMIZE else "maximize"
    with warnings.catch_warnings():
        # constant_liar is marked experimental; the study is private and thrown away.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(
            storage=optuna.storages.InMemoryStorage(),
            sampler=_sampler(spec.algorithm, trial_seed(seed, index)),
            direction=direction,
        )
        for trial in sorted(trials, key=lambda t: t.index):
            frozen = _frozen(spec, trial)
            if frozen is not None and trial.index != index:
                study.add_trial(frozen)
        asked = study.ask({name: distribution(p) for name, p in spec.search_space.items()})
    return {name: parameter_text(asked.params[name]) for name in spec.search_space}


def running_average(history: Sequence[tuple[int, float]], step: int) -> float | None:
    """The mean of the values logged at steps up to ``step``, or None when there are none."""
    values = [value for at, value in history if at <= step]
    return statistics.fmean(values) if values else None


def should_stop(
    history: Sequence[tuple[int, float]],
    completed: Sequence[Sequence[tuple[int, float]]],
    direction: Direction,
    min_steps: int,
    startup_trials: int,
) -> bool:
    """The median stopping rule (Golovin et al. 2017, Google Vizier; Katib's and Optuna's
    median rules are variants): stop a running trial, at its latest step s, when its best value
    so far is worse than the median of the completed trials' running averages up to s.

    ``history`` is the trial's (step, value) points of the objective, ``completed`` those of the
    trials that completed. Nothing is stopped before the trial logged ``min_steps`` steps, or
    while fewer than ``startup_trials`` completed trials have values up to s.
    """
    if len({step for step, _ in history}) < min_steps:
        return False
    step = max(at for at, _ in history)
    averages = [a for other in completed if (a := running_average(other, step)) is not None]
    if len(averages) < startup_trials:
        return False
    median = statistics.median(averages)
    values = [value for _, value in history]
    if direction == Direction.MINIMIZE:
        return min(values) > median
    return max(values) < median
