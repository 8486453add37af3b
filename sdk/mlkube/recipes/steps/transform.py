"""transform: the transformer from ``transformer()`` in steps/transform.py, fitted on the
training set and logged as an MLmodel (``transformer``, pyfunc ``predict`` = ``transform``)."""

from __future__ import annotations

from typing import Any

import mlflow.sklearn
import numpy as np
from sklearn.preprocessing import FunctionTransformer

from mlkube.recipes import hooks
from mlkube.recipes.cards import Card
from mlkube.recipes.context import Context, Output, Record
from mlkube.recipes.errors import RecipeError
from mlkube.recipes.requirements import pip_requirements
from mlkube.recipes.steps import frames

SHOWN_COLUMNS = 12


def execute(ctx: Context) -> Output:
    where = hooks.hook_file(ctx.directory, "transform")
    made = hooks.load(ctx.directory, "transform")()
    # None: the features go to the estimator as they are.
    transformer = FunctionTransformer(feature_names_out="one-to-one") if made is None else made
    if not (hasattr(transformer, "fit") and hasattr(transformer, "transform")):
        raise RecipeError(
            f"{where}: transformer() returned {transformer!r}: it has no fit/transform"
        )
    features, target = frames.features_and_target(ctx.value("split")["train"], ctx.recipe)
    transformer.fit(features, target)
    transformed = transformer.transform(features)
    if hasattr(transformed, "toarray"):  # a sparse matrix
        transformed = transformed.toarray()
    transformed = np.asarray(transformed)
    try:
        names = [str(n) for n in transformer.get_feature_names_out()]
    except (AttributeError, ValueError, TypeError):
        names = [f"x{i}" for i in range(transformed.shape[1])]
    logged = mlflow.sklearn.log_model(
        transformer,
        name="transformer",
        pyfunc_predict_fn="transform",
        pip_requirements=pip_requirements(transformer),
        skops_trusted_types=ctx.recipe.steps.transform.skops_trusted_types or None,
    )
    card = Card(
        "transform", f"Transform: {features.shape[1]} columns in, {len(names)} features out"
    )
    card.facts(
        "Transformer",
        {
            "transformer": type(transformer).__name__,
            "fitted on": f"{len(features)} training rows",
            "model": logged.model_uri,
        },
    )
    card.table("Features out", ["feature"], [[n] for n in names])
    shown = names[:SHOWN_COLUMNS]
    rows = [row[:SHOWN_COLUMNS].tolist() for row in transformed[: frames.SAMPLE_ROWS]]
    card.table("First transformed training rows", shown, rows)
    return Output(
        value=transformer,
        card=card,
        params={
            "transform.transformer": type(transformer).__name__,
            "transform.features": len(names),
        },
        info={"model_uri": logged.model_uri},
        summary=f"{type(transformer).__name__}, {len(names)} features",
    )


def load(ctx: Context, record: Record) -> Any:
    return mlflow.sklearn.load_model(record.info["model_uri"])
