"""predict: batch scoring with the registered version an alias points at; the rows and their
predictions are logged as ``recipe/predict/predictions.csv``.

The alias is resolved once, before the cache key is made (``key_material``): moving the alias
scores again, the same version on the same data does not.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException

from mlkube.recipes import plots
from mlkube.recipes.cards import Card
from mlkube.recipes.config import Recipe
from mlkube.recipes.context import Context, Output, Record
from mlkube.recipes.errors import RecipeError
from mlkube.recipes.steps import frames

PREDICTIONS = "predictions.csv"
COLUMN = "prediction"


def alias_of(recipe: Recipe) -> str:
    alias = recipe.steps.predict.alias or recipe.steps.register.alias
    if alias is None:
        raise RecipeError(
            "steps.predict.alias: required when steps.register.alias is not set: predict scores "
            "the registered version an alias points at"
        )
    return alias


def _input_file(ctx: Context) -> Path | None:
    relative = ctx.recipe.steps.predict.input_path
    if relative is None:
        return None
    path = (ctx.directory / relative).resolve()
    if not path.is_relative_to(ctx.directory.resolve()) or not path.is_file():
        raise RecipeError(
            f"steps.predict.input_path: {relative!r} is not a file inside the recipe directory"
        )
    if path.suffix not in {".csv", ".parquet"}:
        raise RecipeError(
            f"steps.predict.input_path: {relative!r}: expected a .csv or .parquet file"
        )
    return path


def key_material(ctx: Context) -> dict[str, Any]:
    """The version the alias names now, and the input file's digest."""
    name, alias = ctx.recipe.model_name, alias_of(ctx.recipe)
    try:
        version = ctx.client.get_model_version_by_alias(name, alias)
    except MlflowException as err:
        raise RecipeError(
            f"predict: model {name!r} has no alias {alias!r}: {err.message}"
        ) from None
    source = _input_file(ctx)
    digest = hashlib.sha256(source.read_bytes()).hexdigest() if source else None
    return {"model": name, "version": str(version.version), "input": digest}


def execute(ctx: Context) -> Output:
    recipe = ctx.recipe
    material = key_material(ctx)
    source = _input_file(ctx)
    if source is None:
        rows = ctx.value("ingest").drop(columns=[recipe.target_col])
    elif source.suffix == ".csv":
        rows = pd.read_csv(source)
    else:
        rows = pd.read_parquet(source)
    uri = f"models:/{material['model']}/{material['version']}"
    model = mlflow.pyfunc.load_model(uri)
    predictions = pd.Series(list(model.predict(rows)), name=COLUMN)
    scored = rows.reset_index(drop=True).assign(**{COLUMN: predictions})
    scored.to_csv(ctx.outputs("predict") / PREDICTIONS, index=False)
    alias = alias_of(recipe)
    card = Card("predict", f"Predict: {len(scored)} rows with {recipe.model_name}@{alias}")
    card.facts(
        "Scoring",
        {
            "model": uri,
            "alias": alias,
            "input": source.name if source else "the ingested data",
            "rows": len(scored),
            "output": f"recipe/predict/{PREDICTIONS}",
        },
    )
    if recipe.recipe == "regression":
        figure = plots.histogram(scored[COLUMN].to_numpy(dtype=float), COLUMN)
    else:
        figure = plots.class_balance({"predictions": frames.class_counts(scored[COLUMN])})
    card.plots("Predictions", {"predictions": figure})
    card.table("First predictions", *frames.sample_rows(scored))
    return Output(
        value=scored,
        card=card,
        params={"predict.model": uri, "predict.rows": len(scored)},
        info=material,
        summary=f"{len(scored)} rows scored with {uri}",
    )


def load(ctx: Context, record: Record) -> pd.DataFrame:
    return pd.read_csv(ctx.files("predict") / PREDICTIONS)
