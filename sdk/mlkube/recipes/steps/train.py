"""train: the estimator from ``estimator(**estimator_params)`` in steps/train.py, fitted on the
transformed training set; transformer and estimator are logged together as one sklearn Pipeline
MLmodel (``model``), so the registered model scores raw rows."""

from __future__ import annotations

import time
from typing import Any

import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline

from mlkube.recipes import hooks, plots
from mlkube.recipes.cards import Card
from mlkube.recipes.config import Recipe
from mlkube.recipes.context import Context, Output, Record
from mlkube.recipes.errors import RecipeError
from mlkube.recipes.metrics import compute, score
from mlkube.recipes.requirements import pip_requirements
from mlkube.recipes.steps import frames

EXAMPLE_ROWS = 3
# A parameter's value as logged: MLflow keeps 6000 characters; a card needs far fewer.
PARAM_CHARS = 250


def metric_table(recipe: Recipe, by_split: dict[str, dict[str, float]]) -> list[list[Any]]:
    """Rows of metric, then its value per split; the primary metric first."""
    names = sorted({m for found in by_split.values() for m in found})
    names.sort(key=lambda name: name != recipe.primary_metric)
    return [
        [f"{name} (primary)" if name == recipe.primary_metric else name]
        + [by_split[split].get(name, float("nan")) for split in by_split]
        for name in names
    ]


def trusted_types(recipe: Recipe) -> list[str]:
    steps = recipe.steps
    return sorted({*steps.transform.skops_trusted_types, *steps.train.skops_trusted_types})


def execute(ctx: Context) -> Output:
    recipe = ctx.recipe
    params = recipe.steps.train.estimator_params
    where = hooks.hook_file(ctx.directory, "train")
    try:
        estimator = hooks.load(ctx.directory, "train")(**params)
    except TypeError as err:
        raise RecipeError(f"{where}: estimator(**steps.train.estimator_params): {err}") from None
    if not (hasattr(estimator, "fit") and hasattr(estimator, "predict")):
        raise RecipeError(f"{where}: estimator() returned {estimator!r}: it has no fit/predict")
    splits: dict[str, pd.DataFrame] = ctx.value("split")
    transformer = ctx.value("transform")
    features, target = frames.features_and_target(splits["train"], recipe)
    started = time.monotonic()
    estimator.fit(transformer.transform(features), target)
    seconds = time.monotonic() - started
    # Both steps are fitted already; a Pipeline of them predicts without fitting again.
    model = Pipeline([("transformer", transformer), ("estimator", estimator)])
    labels = frames.split_labels(splits, recipe)
    scored = {
        name: score(model, *frames.features_and_target(splits[name], recipe))
        for name in ("train", "validation")
    }
    by_split = {name: compute(found, recipe, labels) for name, found in scored.items()}
    example = features.head(EXAMPLE_ROWS)
    logged = mlflow.sklearn.log_model(
        model,
        name="model",
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        pip_requirements=pip_requirements(model),
        # the Pipeline holds the transformer too
        skops_trusted_types=trusted_types(recipe) or None,
    )
    card = Card("train", f"Train: {type(estimator).__name__}")
    card.facts(
        "Estimator",
        {
            "estimator": type(estimator).__name__,
            **{f"estimator_params.{k}": str(v) for k, v in params.items()},
            "training rows": len(features),
            "fit seconds": round(seconds, 3),
            "model": logged.model_uri,
        },
    )
    card.table("Metrics", ["metric", "train", "validation"], metric_table(recipe, by_split))
    validation = scored["validation"]
    if recipe.recipe == "regression":
        figures = {"validation: prediction vs truth": plots.predicted_vs_truth(validation)}
    elif plots.per_class(labels or []):
        figures = {"validation: confusion matrix": plots.confusion(validation, labels or [])}
    else:
        counts = {"truth": validation.truth, "prediction": pd.Series(validation.predicted)}
        balance = {name: frames.class_counts(values) for name, values in counts.items()}
        figures = {"validation: class balance": plots.class_balance(balance)}
    card.plots("Validation set", figures)
    primary = recipe.primary_metric
    return Output(
        value=model,
        card=card,
        params={
            "train.estimator": type(estimator).__name__,
            **{f"train.{k}": str(v)[:PARAM_CHARS] for k, v in params.items()},
        },
        metrics={f"{split}_{m}": v for split, found in by_split.items() for m, v in found.items()},
        info={"model_uri": logged.model_uri},
        summary=f"validation {primary} = {by_split['validation'].get(primary, float('nan')):.4g}",
    )


def load(ctx: Context, record: Record) -> Any:
    return mlflow.sklearn.load_model(record.info["model_uri"])
