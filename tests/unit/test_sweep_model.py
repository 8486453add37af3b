"""The Sweep model: search-space validation names the parameter and says what to change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlkube.api import SpecError, SweepSpec, parse
from mlkube.api.kinds import SWEEP
from mlkube.api.sweep import SearchParameter


def sweep_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "template": {"project": {"path": "/project"}, "parameters": {"max_iter": "200"}},
        "searchSpace": {
            "alpha": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
            "l1_ratio": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.1},
        },
        "algorithm": "tpe",
        "objective": {"metric": "rmse", "direction": "minimize"},
        "maxRuns": 12,
        "parallelism": 3,
    }
    spec.update(overrides)
    return spec


def problems_of(data: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as caught:
        parse(SweepSpec, data, "spec")
    return str(caught.value)


def with_parameter(parameter: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return sweep_spec(searchSpace={"alpha": parameter}, **overrides)


def test_a_valid_sweep_parses_with_defaults() -> None:
    spec = parse(SweepSpec, sweep_spec(), "spec")
    assert spec.search_space["alpha"].log
    assert spec.max_failed_runs == 3
    assert spec.early_stopping is None


@pytest.mark.parametrize(
    ("parameter", "expected"),
    [
        ({"type": "categorical", "values": []}, "non-empty values"),
        ({"type": "categorical"}, "non-empty values"),
        ({"type": "categorical", "values": ["a", "a"]}, "repeat a choice"),
        ({"type": "categorical", "values": ["a"], "low": 1}, "not low/high"),
        ({"type": "float", "low": 1.0, "high": 1.0}, "low (1) must be below high (1)"),
        ({"type": "int", "low": 5, "high": 2}, "must be below high"),
        ({"type": "float", "low": 0.0, "high": 1.0, "log": True}, "log scale needs low above 0"),
        ({"type": "float", "low": 1.0, "high": 9.0, "log": True, "step": 1}, "log or step"),
        ({"type": "int", "low": 0.5, "high": 3}, "whole low"),
        ({"type": "float", "high": 3}, "needs both low and high"),
        ({"type": "float", "low": 0, "high": 1, "values": ["1"]}, "not values"),
    ],
)
def test_search_space_errors_name_the_parameter(parameter: dict[str, Any], expected: str) -> None:
    message = problems_of(with_parameter(parameter))
    assert message.startswith("spec.searchSpace.alpha: ")
    assert expected in message


def test_grid_needs_a_step_on_float_ranges_and_names_the_parameter() -> None:
    message = problems_of(sweep_spec(algorithm="grid"))
    assert "searchSpace.alpha: the grid algorithm needs a finite parameter" in message
    assert "l1_ratio" not in message  # it has a step


def test_grid_size_is_bounded() -> None:
    wide = {"type": "int", "low": 0, "high": 200}
    space = {"a": wide, "b": wide}
    assert "the grid has 40401 points" in problems_of(
        sweep_spec(algorithm="grid", searchSpace=space)
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"maxRuns": 0}, "spec.maxRuns: input should be greater than or equal to 1"),
        ({"parallelism": 0}, "spec.parallelism: input should be greater than or equal to 1"),
        ({"searchSpace": {}}, "searchSpace needs at least one parameter"),
        ({"template": {"parameters": {}}}, "template.project is required"),
        (
            {"template": {"project": {"path": "/p"}, "tags": {"mlflow.parentRunId": "x"}}},
            "template.tags.mlflow.parentRunId is set by mlkube",
        ),
        (
            {"template": {"project": {"path": "/p"}, "parameters": {"alpha": "1"}}},
            "searchSpace.alpha: also a fixed parameter",
        ),
        ({"objective": {"metric": "rmse", "direction": "down"}}, "spec.objective.direction"),
    ],
)
def test_sweep_level_errors(overrides: dict[str, Any], expected: str) -> None:
    assert expected in problems_of(sweep_spec(**overrides))


@pytest.mark.parametrize(
    ("parameter", "values"),
    [
        ({"type": "int", "low": 2, "high": 5}, ["2", "3", "4", "5"]),
        ({"type": "int", "low": 0, "high": 9, "step": 4}, ["0", "4", "8"]),
        (
            {"type": "float", "low": 0, "high": 0.5, "step": 0.1},
            ["0.0", "0.1", "0.2", "0.3", "0.4", "0.5"],
        ),
        ({"type": "categorical", "values": ["cd", "saga"]}, ["cd", "saga"]),
    ],
)
def test_grid_values_in_order(parameter: dict[str, Any], values: list[str]) -> None:
    search = SearchParameter.model_validate(parameter)
    assert search.grid_size() == len(values)
    assert search.grid_values() == values


def test_kubectl_columns_show_progress_and_best_value() -> None:
    paths = {column.name: column.json_path for column in SWEEP.columns}
    assert paths["Progress"] == ".status.progress"
    assert paths["Best"] == ".status.best.value"


def test_the_example_sweep_is_the_search_the_issue_asks_for() -> None:
    """examples/sweep/sweep.yaml: TPE over alpha (log) and l1_ratio, 12 runs, 3 at a time, median
    early stopping; its searched parameters are the example's MLproject parameters."""
    import yaml

    from mlkube.api import Sweep

    example = Path(__file__).resolve().parents[2] / "examples" / "sweep"
    _, manifest = yaml.safe_load_all((example / "sweep.yaml").read_text())
    sweep = parse(Sweep, manifest)
    spec = sweep.spec
    assert (spec.algorithm, spec.max_runs, spec.parallelism) == ("tpe", 12, 3)
    assert spec.search_space["alpha"].log
    assert spec.early_stopping is not None
    entry = yaml.safe_load((example / "MLproject").read_text())["entry_points"]["main"]
    assert {*spec.search_space, *spec.template.parameters} <= set(entry["parameters"])
