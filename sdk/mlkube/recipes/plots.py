"""The cards' plots, drawn with matplotlib (a dependency of mlflow) as inline SVG.

SVG keeps a card one self-contained file that opens in a browser without network and stays sharp
when zoomed; text stays text (``svg.fonttype: none``), so a page search finds axis labels. A card
stays small on large data: scatter plots draw at most MAX_POINTS points (an even sample), class
balances the MAX_CLASSES most frequent classes, and per-class plots (confusion matrix, curves)
are drawn only up to MAX_CLASSES classes (``per_class``).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display in a pod; must precede pyplot

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from sklearn import metrics as sk

from mlkube.recipes.metrics import Scored

MAX_POINTS = 2000
MAX_CLASSES = 30


@contextmanager
def _figure(width: float = 5.0, height: float = 3.6) -> Iterator[tuple[Any, Axes]]:
    with matplotlib.rc_context({"svg.fonttype": "none", "font.size": 9}):
        figure, axes = plt.subplots(figsize=(width, height))
        try:
            yield figure, axes
        finally:
            plt.close(figure)


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.tight_layout()
    figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog: the card is HTML


def _sample(count: int) -> np.ndarray[Any, Any]:
    """Indices of at most MAX_POINTS of ``count`` rows, evenly spread."""
    if count <= MAX_POINTS:
        return np.arange(count)
    return np.linspace(0, count - 1, MAX_POINTS).astype(int)


def histogram(values: Sequence[float], xlabel: str) -> str:
    with _figure() as (figure, axes):
        axes.hist(np.asarray(values, dtype=float), bins=30, color="#4477aa")
        axes.set_xlabel(xlabel)
        axes.set_ylabel("rows")
        return _svg(figure)


def per_class(labels: Sequence[Any]) -> bool:
    """Whether plots with one row, column or curve per class stay readable."""
    return len(labels) <= MAX_CLASSES


def class_balance(counts: Mapping[str, Mapping[str, int]]) -> str:
    """Rows per class, one bar group per class and one bar per series (a split)."""
    series = list(counts)
    totals: dict[str, int] = {}
    for per in counts.values():
        for label, count in per.items():
            totals[label] = totals.get(label, 0) + count
    labels = sorted(sorted(totals, key=lambda label: -totals[label])[:MAX_CLASSES])
    width = 0.8 / len(series)
    with _figure() as (figure, axes):
        for i, name in enumerate(series):
            shares = [counts[name].get(label, 0) for label in labels]
            total = sum(shares) or 1
            positions = np.arange(len(labels)) + i * width
            axes.bar(positions, [s / total for s in shares], width, label=name)
        axes.set_xticks(np.arange(len(labels)) + width * (len(series) - 1) / 2, labels)
        axes.set_ylabel("share of rows")
        if len(series) > 1:
            axes.legend()
        return _svg(figure)


def predicted_vs_truth(scored: Scored) -> str:
    keep = _sample(len(scored.truth))
    truth = scored.truth.to_numpy(dtype=float)[keep]
    predicted = scored.predicted.astype(float)[keep]
    low, high = float(min(truth.min(), predicted.min())), float(max(truth.max(), predicted.max()))
    with _figure(4.2, 4.0) as (figure, axes):
        axes.scatter(truth, predicted, s=10, alpha=0.6, color="#4477aa")
        axes.plot([low, high], [low, high], color="#cc3311", linewidth=1, label="perfect")
        axes.set_xlabel("truth")
        axes.set_ylabel("prediction")
        axes.legend()
        return _svg(figure)


def residuals(scored: Scored) -> str:
    keep = _sample(len(scored.truth))
    predicted = scored.predicted.astype(float)[keep]
    residual = scored.truth.to_numpy(dtype=float)[keep] - predicted
    with _figure() as (figure, axes):
        axes.scatter(predicted, residual, s=10, alpha=0.6, color="#4477aa")
        axes.axhline(0, color="#cc3311", linewidth=1)
        axes.set_xlabel("prediction")
        axes.set_ylabel("truth - prediction")
        return _svg(figure)


def confusion(scored: Scored, labels: list[Any]) -> str:
    matrix = sk.confusion_matrix(scored.truth, scored.predicted, labels=labels)
    with _figure(4.2, 3.8) as (figure, axes):
        axes.imshow(matrix, cmap="Blues")
        names = [str(label) for label in labels]
        axes.set_xticks(range(len(labels)), names)
        axes.set_yticks(range(len(labels)), names)
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
        middle = matrix.max() / 2
        for (row, column), count in np.ndenumerate(matrix):
            color = "white" if count > middle else "black"
            axes.text(column, row, str(count), ha="center", va="center", color=color)
        return _svg(figure)


def _one_vs_rest(scored: Scored, positive: Any) -> Iterator[tuple[str, Any, Any]]:
    """(label, is-that-class, its probability) per curve: the positive class alone for two
    classes, every class for more."""
    assert scored.probabilities is not None
    assert scored.classes is not None
    truth = scored.truth.to_numpy()
    chosen = [positive] if len(scored.classes) == 2 else scored.classes
    for label in chosen:
        column = scored.classes.index(label)
        if len(set(truth == label)) == 2:  # a curve needs both outcomes
            yield str(label), truth == label, scored.probabilities[:, column]


def roc(scored: Scored, positive: Any) -> str:
    with _figure() as (figure, axes):
        for label, hits, proba in _one_vs_rest(scored, positive):
            fpr, tpr, _ = sk.roc_curve(hits, proba)
            axes.plot(fpr, tpr, label=f"{label} (AUC {sk.auc(fpr, tpr):.3f})")
        axes.plot([0, 1], [0, 1], color="#999999", linewidth=1, linestyle="--")
        axes.set_xlabel("false positive rate")
        axes.set_ylabel("true positive rate")
        axes.legend(loc="lower right")
        return _svg(figure)


def precision_recall(scored: Scored, positive: Any) -> str:
    with _figure() as (figure, axes):
        for label, hits, proba in _one_vs_rest(scored, positive):
            precision, recall, _ = sk.precision_recall_curve(hits, proba)
            average = sk.average_precision_score(hits, proba)
            axes.plot(recall, precision, label=f"{label} (AP {average:.3f})")
        axes.set_xlabel("recall")
        axes.set_ylabel("precision")
        axes.legend(loc="lower left")
        return _svg(figure)
