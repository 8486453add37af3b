"""recipe.yaml and profiles: every problem named by its path, with the values allowed, before
any step runs (issue 15)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlkube.recipes import commands
from mlkube.recipes.config import load_profile, load_recipe
from mlkube.recipes.errors import RecipeError


def edit(directory: Path, change: Any) -> None:
    path = directory / "recipe.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def problems(directory: Path) -> str:
    with pytest.raises(RecipeError) as caught:
        load_recipe(directory)
    return str(caught.value)


def test_both_templates_are_valid_recipes(regression: Path, classification: Path) -> None:
    first = load_recipe(regression)
    assert (first.recipe, first.name, first.primary_metric) == ("regression", "diabetes", "rmse")
    assert first.steps.register.alias == "champion"
    second = load_recipe(classification)
    assert (second.recipe, second.positive_class, second.model_name) == (
        "classification",
        "malignant",
        "cancer",
    )
    assert load_profile(regression, "local").runs_on == "local"
    assert load_profile(regression, "cluster").runs_on == "cluster"


def test_a_wrong_kind_names_the_field_and_the_allowed_values(regression: Path) -> None:
    edit(regression, lambda d: d.update(recipe="regresion"))
    message = problems(regression)
    assert "recipe.yaml:\n  recipe: " in message
    assert "'regression' or 'classification'" in message
    assert "got 'regresion'" in message


def test_an_unknown_field_lists_the_fields_allowed_there(regression: Path) -> None:
    edit(regression, lambda d: d["steps"]["split"].update(ratios=[0.5, 0.5]))
    edit(regression, lambda d: d["steps"]["evaluate"]["validation_criteria"][0].update(dir="up"))
    message = problems(regression)
    assert "steps.split.ratios: unknown field (allowed: split_ratios, seed)" in message
    assert (
        "steps.evaluate.validation_criteria[0].dir: unknown field "
        "(allowed: metric, threshold, direction)"
    ) in message


def test_split_ratios_that_do_not_sum_to_one_are_refused(regression: Path) -> None:
    edit(regression, lambda d: d["steps"]["split"].update(split_ratios=[0.7, 0.2, 0.2]))
    assert re.search(
        r"steps\.split\.split_ratios: train, validation and test fractions must sum to 1, "
        r"got 0\.7 \+ 0\.2 \+ 0\.2 = 1\.1",
        problems(regression),
    )


def test_unknown_metrics_are_refused_with_the_kinds_metrics(classification: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["primary_metric"] = "rmse"
        data["steps"]["evaluate"]["validation_criteria"][1]["metric"] = "auc"

    edit(classification, change)
    message = problems(classification)
    allowed = "(allowed: accuracy, precision, recall, f1, roc_auc, log_loss)"
    assert f"primary_metric: unknown metric 'rmse' for a classification recipe {allowed}" in message
    assert (
        "steps.evaluate.validation_criteria[1].metric: unknown metric 'auc' for a "
        f"classification recipe {allowed}"
    ) in message


def test_a_direction_and_a_missing_field_are_named(regression: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        del data["target_col"]
        data["steps"]["evaluate"]["validation_criteria"][0]["direction"] = "down"
        data["positive_class"] = "yes"

    edit(regression, change)
    message = problems(regression)
    assert "target_col: required field is missing" in message
    assert "validation_criteria[0].direction: input should be 'at_most' or 'at_least'" in message
    assert "got 'down'" in message
    # Kind-dependent checks wait until the fields parse: one round of fixes at a time.
    edit(regression, lambda d: d.update(target_col="progression"))
    edit(regression, lambda d: d["steps"]["evaluate"]["validation_criteria"][0].pop("direction"))
    assert "positive_class: only a classification recipe has classes" in problems(regression)


def test_a_name_must_be_usable_as_an_experiment_and_resource_name(regression: Path) -> None:
    edit(regression, lambda d: d.update(name="My Recipe"))
    assert "name: expected a DNS label" in problems(regression)


def test_profiles_are_checked_and_a_missing_one_lists_those_there(regression: Path) -> None:
    with pytest.raises(
        RecipeError, match=r"profile 'prod': no .* \(profiles here: cluster, local\)"
    ):
        load_profile(regression, "prod")
    (regression / "profiles" / "odd.yaml").write_text("runs_on: laptop\ntimeout_seconds: 0\n")
    with pytest.raises(RecipeError) as caught:
        load_profile(regression, "odd")
    assert "runs_on: input should be 'local' or 'cluster', got 'laptop'" in str(caught.value)
    assert "timeout_seconds: input should be greater than 0" in str(caught.value)


def test_run_refuses_a_bad_recipe_before_any_step(
    regression: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No tracking server is set: a step that started would fail differently (and later)."""
    edit(regression, lambda d: d["steps"]["split"].update(split_ratios=[0.5, 0.25, 0.5]))
    assert commands.run(regression, None, "local", None, {}) == 2
    assert "must sum to 1" in capsys.readouterr().err
    assert not (regression / commands.WORK).exists()


def test_predict_needs_an_alias_and_an_unknown_step_is_refused(
    regression: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(regression, lambda d: [d["steps"][s].pop("alias") for s in ("register", "predict")])
    assert commands.run(regression, "predict", "local", None, {}) == 2
    assert "steps.predict.alias: required when steps.register.alias is not set" in (
        capsys.readouterr().err
    )
    assert commands.run(regression, "deploy", "local", None, {}) == 2
    assert "--step: unknown step 'deploy'" in capsys.readouterr().err


def test_init_refuses_to_overwrite_a_recipe(regression: Path) -> None:
    before = (regression / "recipe.yaml").read_text()
    assert commands.init("classification", regression) == 1
    assert (regression / "recipe.yaml").read_text() == before
    assert (regression / ".gitignore").read_text().splitlines()[-1] == ".mlkube/"
