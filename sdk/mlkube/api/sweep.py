"""Sweep: a hyperparameter search that runs its trials as Runs it owns (docs/sweeps.md)."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from mlkube.api.common import (
    Condition,
    KubeName,
    Model,
    ObjectMeta,
    conditions_field,
    observed_generation_field,
)
from mlkube.api.run import RunSpec

# Bounds that keep a sweep's work and its status object small (docs/sweeps.md, Security).
MAX_RUNS = 1000
MAX_PARALLELISM = 100
MAX_PARAMETERS = 50
MAX_VALUES = 1000
MAX_GRID = 10_000
# The tag that nests a trial under the sweep's MLflow run; mlkube sets it, a template may not.
PARENT_RUN_TAG = "mlflow.parentRunId"


def parameter_text(value: str | int | float) -> str:
    """A searched value as a Run parameter string: a float to 12 significant digits, so a step
    of 0.1 reads 0.3 rather than 0.30000000000000004, and the text is the value that ran."""
    if isinstance(value, float):
        return repr(float(f"{value:.12g}"))
    return str(value)


class ParameterType(StrEnum):
    CATEGORICAL = "categorical"
    INT = "int"
    FLOAT = "float"


class SearchParameter(Model):
    """The values one parameter may take: a list of choices, or an int or float range."""

    type: ParameterType = Field(description="categorical, int or float.")
    values: list[str] | None = Field(
        default=None,
        max_length=MAX_VALUES,
        description="The choices of a categorical parameter, as strings (quote numbers in YAML).",
    )
    low: float | None = Field(default=None, description="Lowest value of a range (included).")
    high: float | None = Field(
        default=None, description="Highest value of a range (included when a step reaches it)."
    )
    step: float | None = Field(
        default=None,
        gt=0,
        description="Spacing of the values of a range (1 for int unless set); a float range "
        "needs it for the grid algorithm.",
    )
    log: bool = Field(
        default=False, description="Sample the range on a log scale (low must be above 0)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.type == ParameterType.CATEGORICAL:
            if not self.values:
                raise ValueError("a categorical parameter needs a non-empty values list")
            if len(set(self.values)) != len(self.values):
                raise ValueError("values repeat a choice; list each once")
            if self.low is not None or self.high is not None or self.step or self.log:
                raise ValueError("a categorical parameter takes values, not low/high/step/log")
            return self
        if self.values is not None:
            raise ValueError(f"an {self.type} range takes low and high, not values")
        if self.low is None or self.high is None:
            raise ValueError(f"an {self.type} range needs both low and high")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError("low and high must be finite numbers")
        if self.low >= self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        if self.log and self.low <= 0:
            raise ValueError(f"log scale needs low above 0, got {self.low:g}")
        if self.log and self.step is not None:
            raise ValueError("set log or step, not both")
        if self.type == ParameterType.INT:
            for name, value in (("low", self.low), ("high", self.high), ("step", self.step)):
                if value is not None and value != int(value):
                    raise ValueError(f"an int range needs a whole {name}, got {value:g}")
        return self

    def grid_size(self) -> int | None:
        """How many values the grid algorithm tries, or None when the parameter is not finite
        (a float range without a step, or a log-scale range)."""
        if self.type == ParameterType.CATEGORICAL:
            return len(self.values or [])
        step = self._step()
        if step is None or self.log:
            return None
        low, high = self.low or 0.0, self.high or 0.0  # both set: the validator checked
        # A small tolerance so 0..1 by 0.1 has 11 points despite binary fractions.
        return math.floor((high - low) / step + 1e-9) + 1

    def _step(self) -> float | None:
        """The spacing of a range's values: its step, 1 for an int range, None otherwise."""
        if self.step is not None:
            return self.step
        return 1.0 if self.type == ParameterType.INT else None

    def grid_values(self) -> list[str]:
        """The grid's values in order, as the strings a Run's parameters hold."""
        size = self.grid_size()
        if size is None:
            raise ValueError("not a finite parameter")
        if self.type == ParameterType.CATEGORICAL:
            return list(self.values or [])
        low, step = self.low or 0.0, self._step() or 1.0
        points = [low + i * step for i in range(size)]
        if self.type == ParameterType.INT:
            return [str(round(p)) for p in points]
        return [parameter_text(p) for p in points]


class Algorithm(StrEnum):
    GRID = "grid"
    RANDOM = "random"
    TPE = "tpe"


class Direction(StrEnum):
    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"


class Objective(Model):
    """The metric the search optimises: the latest value each trial logged."""

    metric: str = Field(min_length=1, max_length=250, description="The metric's MLflow key.")
    direction: Direction = Field(description="minimize or maximize.")


class StoppingRule(StrEnum):
    MEDIAN = "median"


class EarlyStopping(Model):
    """Stop trials that are doing worse than the others, judged on their logged steps."""

    rule: StoppingRule = Field(
        default=StoppingRule.MEDIAN,
        description="median: stop a trial whose best value so far is worse than the median of "
        "the other trials' running averages at the same step.",
    )
    min_steps: int = Field(
        default=1, ge=1, le=100_000, description="Judge a trial only after this many steps."
    )
    startup_trials: int = Field(
        default=3, ge=1, le=MAX_RUNS, description="Judge no trial until this many completed."
    )
    interval_seconds: int = Field(
        default=30, ge=10, le=3600, description="How often running trials' metrics are read."
    )


class SweepSpec(Model):
    """The Run every trial is made from, what to search, how, and when to stop."""

    template: RunSpec = Field(
        description="The spec of every trial Run; the searched parameters are added to its "
        "parameters. It must name a project."
    )
    search_space: dict[str, SearchParameter] = Field(
        description="The parameters to search, by name, each with its values or range.",
        json_schema_extra={"minProperties": 1, "maxProperties": MAX_PARAMETERS},
    )
    algorithm: Algorithm = Field(
        default=Algorithm.RANDOM, description="grid, random or tpe (Optuna's TPE sampler)."
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=2**32 - 1,
        description="Seed of the random and tpe samplers; the same seed and the same finished "
        "trials suggest the same points. Defaults to one derived from the Sweep's uid.",
    )
    objective: Objective = Field(description="The metric to optimise and its direction.")
    parallelism: int = Field(
        default=1, ge=1, le=MAX_PARALLELISM, description="Trials running at once, at most."
    )
    max_runs: int = Field(
        default=10,
        ge=1,
        le=MAX_RUNS,
        description="Trials to run in all (a grid stops earlier when it has no points left).",
    )
    max_failed_runs: int = Field(
        default=3,
        ge=0,
        le=MAX_RUNS,
        description="The sweep fails when more trials than this have failed.",
    )
    early_stopping: EarlyStopping | None = Field(
        default=None, description="Stop trials early that do worse than the others."
    )
    suspend: bool = Field(
        default=False,
        description="Set to true to pause the sweep: no trial is created and the running ones "
        "are stopped (they end Killed, and count as trials); the sweep shows phase Suspended. "
        "Set back to false to go on with new trials up to maxRuns.",
    )

    @model_validator(mode="after")
    def _searchable(self) -> Self:
        if not self.search_space:
            raise ValueError("searchSpace needs at least one parameter")
        if len(self.search_space) > MAX_PARAMETERS:
            raise ValueError(f"searchSpace has more than {MAX_PARAMETERS} parameters")
        if self.template.project is None:
            raise ValueError("template.project is required: a trial runs the project's code")
        if PARENT_RUN_TAG in self.template.tags:
            raise ValueError(f"template.tags.{PARENT_RUN_TAG} is set by mlkube; remove it")
        if self.template.suspend:
            raise ValueError("template.suspend must be false; mlkube suspends trials it stops")
        problems = [
            f"searchSpace.{name}: also a fixed parameter in template.parameters; keep one"
            for name in self.search_space
            if name in self.template.parameters
        ]
        if self.algorithm == Algorithm.GRID:
            size = 1
            for name, parameter in self.search_space.items():
                count = parameter.grid_size()
                if count is None:
                    problems.append(
                        f"searchSpace.{name}: the grid algorithm needs a finite parameter; "
                        "give this range a step (and no log), or use random or tpe"
                    )
                else:
                    size *= count
            if not problems and size > MAX_GRID:
                problems.append(f"searchSpace: the grid has {size} points, more than {MAX_GRID}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class SweepPhase(StrEnum):
    RUNNING = "Running"
    SUSPENDED = "Suspended"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class BestTrial(Model):
    """The finished trial with the best objective value so far."""

    run: KubeName = Field(description="The trial's Run.")
    trial: int = Field(ge=0, description="The trial's index.")
    run_id: str | None = Field(default=None, description="The trial's MLflow run id.")
    parameters: dict[str, str] = Field(
        default_factory=dict, description="The searched parameters it ran with."
    )
    value: float = Field(description="Its objective value.")


class SweepStatus(Model):
    """What the search did so far; written by the operator's sweep controller only."""

    phase: SweepPhase | None = Field(default=None, description="Running, Succeeded or Failed.")
    parent_run_id: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{32}$",
        description="The MLflow run the trials are nested under (tag mlflow.parentRunId).",
    )
    trials: int = Field(default=0, ge=0, description="Trials created.")
    running: int = Field(default=0, ge=0, description="Trials pending or running.")
    succeeded: int = Field(default=0, ge=0, description="Trials that succeeded.")
    failed: int = Field(default=0, ge=0, description="Trials that failed.")
    killed: int = Field(default=0, ge=0, description="Trials killed, early stopping included.")
    pruned: int = Field(default=0, ge=0, description="Trials early stopping killed.")
    progress: str | None = Field(
        default=None, description="Finished trials out of maxRuns, for example 4/12."
    )
    best: BestTrial | None = Field(default=None, description="The best finished trial.")
    message: str | None = Field(default=None, max_length=4096, description="Why, in words.")
    conditions: list[Condition] = conditions_field()
    observed_generation: int | None = observed_generation_field()


class Sweep(Model):
    api_version: str = Field(default="mlkube.io/v1alpha1", description="mlkube.io/v1alpha1")
    kind: str = Field(default="Sweep", description="Sweep")
    metadata: ObjectMeta
    spec: SweepSpec
    status: SweepStatus = Field(default_factory=SweepStatus)
