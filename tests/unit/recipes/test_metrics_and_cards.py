"""Metrics per kind (binary and multiclass classification, regression), the plots and the card
they make: one HTML file that needs nothing but itself."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from mlkube.recipes import plots
from mlkube.recipes.cards import Card
from mlkube.recipes.config import METRICS, load_recipe
from mlkube.recipes.metrics import Scored, compute, score


def test_regression_metrics(regression: Path) -> None:
    features, target = load_diabetes(return_X_y=True, as_frame=True)
    scored = score(LinearRegression().fit(features, target), features, target)
    found = compute(scored, load_recipe(regression))
    assert set(found) == set(METRICS["regression"])
    assert found["r2"] == pytest.approx(0.5177, abs=1e-3)
    assert found["rmse"] == pytest.approx(53.48, abs=0.01)


def test_binary_metrics_are_about_the_positive_class(classification: Path) -> None:
    data = load_breast_cancer(as_frame=True)
    truth = pd.Series(data.target_names[data.target], name="diagnosis")
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(data.data, truth)
    recipe = load_recipe(classification)  # positive_class: malignant
    found = compute(score(model, data.data, truth), recipe, ["benign", "malignant"])
    assert set(found) == set(METRICS["classification"])
    flipped = compute(
        score(model, data.data, truth),
        recipe.model_copy(update={"positive_class": "benign"}),
        ["benign", "malignant"],
    )
    assert found["recall"] != flipped["recall"]  # 212 malignant, 357 benign rows
    assert found["roc_auc"] == pytest.approx(flipped["roc_auc"])


def test_multiclass_metrics_average_over_classes(classification: Path) -> None:
    features, target = load_iris(return_X_y=True, as_frame=True)
    recipe = load_recipe(classification).model_copy(update={"positive_class": None})
    scored = score(LogisticRegression(max_iter=1000).fit(features, target), features, target)
    found = compute(scored, recipe, [0, 1, 2])
    assert set(found) == set(METRICS["classification"])
    assert found["accuracy"] > 0.9
    assert 0.9 < found["roc_auc"] <= 1.0
    roc = plots.roc(scored, None)
    assert roc.startswith("<svg")
    assert all(f">{label} (AUC" in roc for label in ("0", "1", "2"))


def test_without_predict_proba_roc_auc_and_log_loss_are_left_out(classification: Path) -> None:
    features, target = load_iris(return_X_y=True, as_frame=True)
    recipe = load_recipe(classification).model_copy(update={"positive_class": None})
    found = compute(score(SVC().fit(features, target), features, target), recipe, [0, 1, 2])
    assert set(found) == {"accuracy", "precision", "recall", "f1"}


def test_a_card_is_one_self_contained_escaped_page() -> None:
    card = Card("train", "Train: <b>")
    card.facts("Estimator", {"estimator": "ElasticNet", "alpha": 0.05})
    card.table("Metrics", ["metric", "result"], [["rmse", "passed"], ["r2", "failed"]])
    card.plots("Plots", {"a histogram": plots.histogram([1.0, 2.0, 2.5], "x")})
    page = card.render({"run": "abc"})
    assert page.startswith("<!DOCTYPE html>")
    assert "&lt;b&gt;" in page
    assert '<td class="passed">passed</td>' in page
    assert '<td class="failed">failed</td>' in page
    assert page.count("<svg") == 1
    # Nothing fetched: no script, no external reference of any kind.
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "http://www.w3.org" in page  # SVG's namespace names a URL; nothing loads it


def test_plots_stay_small_with_many_classes_or_rows() -> None:
    """A target with too many classes (a regression target declared a classification one)."""
    svg = plots.class_balance({"all": {f"c{i}": i + 1 for i in range(40)}})
    drawn = set(re.findall(r">(c\d+)<", svg))
    assert drawn == {f"c{i}" for i in range(10, 40)}  # the 30 most frequent
    assert plots.per_class(list(range(30)))
    assert not plots.per_class(list(range(31)))
    many = pd.Series(range(10_000), dtype=float)
    scatter = plots.predicted_vs_truth(Scored(many, many.to_numpy()))
    assert scatter.count("<use ") < plots.MAX_POINTS + 50  # a marker per point, and ticks
