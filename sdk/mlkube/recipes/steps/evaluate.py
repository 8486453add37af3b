"""evaluate: the model on the held-out test set, against a baseline that ignores the features,
and the verdict of ``validation_criteria`` (on the test metrics), which ``register`` obeys."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier, DummyRegressor

from mlkube.recipes import plots
from mlkube.recipes.cards import Card
from mlkube.recipes.config import Recipe
from mlkube.recipes.context import Context, Output, Record
from mlkube.recipes.metrics import Scored, compute, positive_label, score
from mlkube.recipes.steps import frames
from mlkube.recipes.steps.train import metric_table

WORST_ROWS = 10
WORST_COLUMNS = 6
VALIDATION_TAG = "mlkube.recipe.validation"


def judge(recipe: Recipe, found: dict[str, float]) -> list[dict[str, Any]]:
    """Each criterion with the test value, and whether it passed."""
    verdicts = []
    for criterion in recipe.steps.evaluate.validation_criteria:
        direction = recipe.direction(criterion)
        value = found.get(criterion.metric)
        passed = value is not None and (
            value <= criterion.threshold if direction == "at_most" else value >= criterion.threshold
        )
        verdicts.append(
            {
                "metric": criterion.metric,
                "value": value,
                "threshold": criterion.threshold,
                "direction": direction,
                "passed": passed,
            }
        )
    return verdicts


def _worst(scored: Scored, features: pd.DataFrame) -> tuple[list[str], list[list[Any]]]:
    """The test rows with the largest absolute error (by their row in the ingested data), with
    their first few features."""
    error = scored.truth.to_numpy(dtype=float) - scored.predicted.astype(float)
    order = np.argsort(-np.abs(error))[:WORST_ROWS]
    columns = [str(c) for c in features.columns[:WORST_COLUMNS]]
    rows = [
        [
            features.index[i],
            float(scored.truth.iloc[i]),
            float(scored.predicted[i]),
            float(error[i]),
            *features.iloc[i, :WORST_COLUMNS].tolist(),
        ]
        for i in order
    ]
    return ["row", "truth", "prediction", "error", *columns], rows


def _plots(recipe: Recipe, scored: Scored, labels: list[Any] | None) -> dict[str, str]:
    if recipe.recipe == "regression":
        return {
            "prediction vs truth": plots.predicted_vs_truth(scored),
            "residuals": plots.residuals(scored),
        }
    assert labels is not None
    figures = {
        "class balance: truth vs prediction": plots.class_balance(
            {
                "truth": frames.class_counts(scored.truth),
                "prediction": frames.class_counts(pd.Series(scored.predicted)),
            }
        ),
    }
    if not plots.per_class(labels):
        return figures
    figures["confusion matrix"] = plots.confusion(scored, labels)
    if scored.probabilities is not None:
        positive = positive_label(recipe, labels) if len(labels) == 2 else None
        figures["ROC curve"] = plots.roc(scored, positive)
        figures["precision-recall curve"] = plots.precision_recall(scored, positive)
    return figures


def execute(ctx: Context) -> Output:
    recipe = ctx.recipe
    splits: dict[str, pd.DataFrame] = ctx.value("split")
    model = ctx.value("train")
    labels = frames.split_labels(splits, recipe)
    features, truth = frames.features_and_target(splits["test"], recipe)
    scored = score(model, features, truth)
    found = compute(scored, recipe, labels)
    train_x, train_y = frames.features_and_target(splits["train"], recipe)
    dummy = DummyRegressor() if recipe.recipe == "regression" else DummyClassifier()
    baseline = compute(score(dummy.fit(train_x, train_y), features, truth), recipe, labels)
    verdicts = judge(recipe, found)
    validated = all(v["passed"] for v in verdicts)
    word = "passed" if validated else "failed"

    card = Card("evaluate", f"Evaluate: validation {word}")
    card.table(
        "Validation criteria (test set)",
        ["metric", "value", "threshold", "direction", "result"],
        [
            [
                v["metric"],
                "not computed" if v["value"] is None else v["value"],
                v["threshold"],
                v["direction"].replace("_", " "),
                "passed" if v["passed"] else "failed",
            ]
            for v in verdicts
        ],
    )
    if not verdicts:
        card.note("No validation criteria: every model passes.")
    table = metric_table(recipe, {"model": found, "baseline": baseline})
    card.table(
        f"Test metrics against a baseline ({type(dummy).__name__}, which ignores the features)",
        ["metric", "model", "baseline"],
        table,
    )
    card.plots("Test set", _plots(recipe, scored, labels))
    if recipe.recipe == "regression":
        card.table("Worst test predictions", *_worst(scored, features))
    primary = recipe.primary_metric
    return Output(
        value=None,
        card=card,
        metrics={
            **{f"test_{m}": v for m, v in found.items()},
            **{f"baseline_test_{m}": v for m, v in baseline.items()},
        },
        tags={VALIDATION_TAG: word},
        info={"validated": validated, "criteria": verdicts, "test_metrics": found},
        summary=f"test {primary} = {found.get(primary, float('nan')):.4g}, validation {word}",
    )


def load(ctx: Context, record: Record) -> None:
    """Later steps read evaluate's verdict from its record; it has no value to load."""
