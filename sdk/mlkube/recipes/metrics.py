"""The metrics of config.METRICS, computed from a fitted model on one split.

Classification: precision, recall and F1 are of the positive class for two classes and
macro-averaged for more; ROC AUC is one-vs-rest (macro) for more than two; ROC AUC and log loss
need ``predict_proba`` and are left out for a model without it (a criterion on them then fails,
saying so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as sk

from mlkube.recipes.config import Recipe
from mlkube.recipes.errors import RecipeError


@dataclass(frozen=True)
class Scored:
    """A model's predictions on one split, kept for the plots of the cards."""

    truth: pd.Series
    predicted: np.ndarray[Any, Any]
    # classification with predict_proba: one column per class, in ``classes`` order
    probabilities: np.ndarray[Any, Any] | None = None
    classes: list[Any] | None = None


def score(model: Any, features: pd.DataFrame, truth: pd.Series) -> Scored:
    predicted = np.asarray(model.predict(features))
    if not hasattr(model, "predict_proba") or not hasattr(model, "classes_"):
        return Scored(truth, predicted)
    try:
        probabilities = np.asarray(model.predict_proba(features))
    except AttributeError:  # e.g. SVC(probability=False) has the method but refuses it
        return Scored(truth, predicted)
    return Scored(truth, predicted, probabilities, list(model.classes_))


def positive_label(recipe: Recipe, classes: list[Any]) -> Any:
    """The positive class of a binary problem: ``positive_class``, else the last label."""
    if recipe.positive_class is None:
        return classes[-1]
    for label in classes:
        if str(label) == str(recipe.positive_class):
            return label
    raise RecipeError(
        f"positive_class: {recipe.positive_class!r} is not a label of {recipe.target_col!r} "
        f"(labels: {', '.join(str(c) for c in classes)})"
    )


def regression(scored: Scored) -> dict[str, float]:
    truth, predicted = scored.truth.to_numpy(dtype=float), scored.predicted.astype(float)
    return {
        "rmse": float(np.sqrt(sk.mean_squared_error(truth, predicted))),
        "mae": float(sk.mean_absolute_error(truth, predicted)),
        "r2": float(sk.r2_score(truth, predicted)),
    }


def classification(scored: Scored, recipe: Recipe, labels: list[Any]) -> dict[str, float]:
    """``labels``: every class of the data (a split may lack one)."""
    truth, predicted = scored.truth.to_numpy(), scored.predicted
    binary = len(labels) == 2
    averaging: dict[str, Any] = (
        {"average": "binary", "pos_label": positive_label(recipe, labels)}
        if binary
        else {"average": "macro", "labels": labels}
    )
    found = {
        "accuracy": float(sk.accuracy_score(truth, predicted)),
        "precision": float(sk.precision_score(truth, predicted, zero_division=0, **averaging)),
        "recall": float(sk.recall_score(truth, predicted, zero_division=0, **averaging)),
        "f1": float(sk.f1_score(truth, predicted, zero_division=0, **averaging)),
    }
    if scored.probabilities is None or scored.classes is None:
        return found
    proba = scored.probabilities
    found["log_loss"] = float(sk.log_loss(truth, proba, labels=scored.classes))
    if len(set(truth)) < 2:
        return found  # ROC AUC is undefined on one class
    if binary:
        column = scored.classes.index(positive_label(recipe, scored.classes))
        positive = truth == scored.classes[column]
        found["roc_auc"] = float(sk.roc_auc_score(positive, proba[:, column]))
    elif set(truth) == set(scored.classes):
        found["roc_auc"] = float(
            sk.roc_auc_score(truth, proba, multi_class="ovr", labels=scored.classes)
        )
    return found


def compute(scored: Scored, recipe: Recipe, labels: list[Any] | None = None) -> dict[str, float]:
    if recipe.recipe == "regression":
        return regression(scored)
    return classification(scored, recipe, labels or sorted(set(scored.truth)))
