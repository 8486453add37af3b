"""The steps, what each reads, and the ones a run of a given step needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlkube.recipes.config import STEPS, TRAINING, Recipe
from mlkube.recipes.context import Context, Loader, Output, Record
from mlkube.recipes.errors import RecipeError
from mlkube.recipes.steps import evaluate, ingest, predict, register, split, train, transform


def _always(ctx: Context, record: Record) -> bool:
    return True


def _nothing(ctx: Context) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Step:
    name: str
    reads: Callable[[Recipe], tuple[str, ...]]
    execute: Callable[[Context], Output]
    load: Loader
    # what the key depends on beyond the settings and the steps read (found at run time)
    key_material: Callable[[Context], dict[str, Any]] = _nothing
    # whether a cached result still stands
    still_valid: Callable[[Context, Record], bool] = _always


def _fixed(*steps: str) -> Callable[[Recipe], tuple[str, ...]]:
    return lambda recipe: steps


def _predict_reads(recipe: Recipe) -> tuple[str, ...]:
    return () if recipe.steps.predict.input_path else ("ingest",)


REGISTRY = {
    step.name: step
    for step in (
        Step("ingest", _fixed(), ingest.execute, ingest.load),
        Step("split", _fixed("ingest"), split.execute, split.load),
        Step("transform", _fixed("split"), transform.execute, transform.load),
        Step("train", _fixed("split", "transform"), train.execute, train.load),
        Step("evaluate", _fixed("split", "train"), evaluate.execute, evaluate.load),
        Step(
            "register",
            _fixed("train", "evaluate"),
            register.execute,
            register.load,
            still_valid=register.still_valid,
        ),
        Step(
            "predict",
            _predict_reads,
            predict.execute,
            predict.load,
            key_material=predict.key_material,
        ),
    )
}


def plan(recipe: Recipe, target: str | None) -> list[str]:
    """The steps to go through for ``target`` (default: the training steps up to register), in
    order; checked before any step runs."""
    if target is None:
        return list(TRAINING)
    if target not in REGISTRY:
        raise RecipeError(f"--step: unknown step {target!r} (steps: {', '.join(STEPS)})")
    if target == "predict":
        predict.alias_of(recipe)
    needed: set[str] = set()

    def visit(step: str) -> None:
        if step not in needed:
            needed.add(step)
            for upstream in REGISTRY[step].reads(recipe):
                visit(upstream)

    visit(target)
    return [step for step in STEPS if step in needed]
