"""Cache keys: a change reaches the step it concerns and every step after it, no other."""

from __future__ import annotations

from pathlib import Path

from mlkube.recipes import cache
from mlkube.recipes.config import TRAINING, Recipe, load_recipe
from mlkube.recipes.plan import REGISTRY


def keys(recipe: Recipe, directory: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for step in TRAINING:
        upstream = {name: found[name] for name in REGISTRY[step].reads(recipe)}
        found[step] = cache.step_key(recipe, directory, step, upstream)
    return found


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [step for step in TRAINING if before[step] != after[step]]


def test_estimator_settings_change_only_train_and_after(regression: Path) -> None:
    recipe = load_recipe(regression)
    before = keys(recipe, regression)
    assert keys(recipe, regression) == before  # the same inputs, the same keys
    train = recipe.steps.train.model_copy(update={"estimator_params": {"alpha": 0.5}})
    other = recipe.model_copy(update={"steps": recipe.steps.model_copy(update={"train": train})})
    assert changed(before, keys(other, regression)) == ["train", "evaluate", "register"]


def test_a_hook_edit_reruns_its_step_and_the_alias_reruns_nothing(regression: Path) -> None:
    recipe = load_recipe(regression)
    before = keys(recipe, regression)
    hook = regression / "steps" / "transform.py"
    hook.write_text(hook.read_text() + "\n# with a comment\n")
    assert changed(before, keys(recipe, regression)) == [
        "transform",
        "train",
        "evaluate",
        "register",
    ]
    after = keys(recipe, regression)
    register = recipe.steps.register.model_copy(update={"alias": "production"})
    other = recipe.model_copy(
        update={"steps": recipe.steps.model_copy(update={"register_": register})}
    )
    assert keys(other, regression) == after


def test_criteria_change_evaluate_and_register(regression: Path) -> None:
    recipe = load_recipe(regression)
    before = keys(recipe, regression)
    evaluate = recipe.steps.evaluate.model_copy(update={"validation_criteria": []})
    other = recipe.model_copy(
        update={"steps": recipe.steps.model_copy(update={"evaluate": evaluate})}
    )
    assert changed(before, keys(other, regression)) == ["evaluate", "register"]
