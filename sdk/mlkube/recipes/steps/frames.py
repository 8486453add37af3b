"""Data frames between steps: features and target, files, and what a card shows of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mlkube.recipes.config import Recipe

SAMPLE_ROWS = 10


def features_and_target(frame: pd.DataFrame, recipe: Recipe) -> tuple[pd.DataFrame, pd.Series]:
    return frame.drop(columns=[recipe.target_col]), frame[recipe.target_col]


def write(frame: pd.DataFrame, path: Path) -> None:
    """Store a frame with its index: a split's rows keep their row numbers in the ingested data."""
    frame.to_parquet(path)


def read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path)


def labels(truth: pd.Series) -> list[Any]:
    """The classes of a target, sorted as scikit-learn sorts them."""
    return sorted(truth.dropna().unique().tolist())


def split_labels(splits: dict[str, pd.DataFrame], recipe: Recipe) -> list[Any] | None:
    """Every class in any split (None for regression): the labels metrics and plots use."""
    if recipe.recipe != "classification":
        return None
    return labels(pd.concat([part[recipe.target_col] for part in splits.values()]))


def class_counts(truth: pd.Series) -> dict[str, int]:
    return {str(label): int(count) for label, count in truth.value_counts().sort_index().items()}


def schema_rows(frame: pd.DataFrame) -> list[list[Any]]:
    """Per column: name, dtype, missing values and a summary (range and mean, or distinct)."""
    rows: list[list[Any]] = []
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            summary = f"{column.min():.4g} .. {column.max():.4g}, mean {column.mean():.4g}"
        else:
            summary = f"{column.nunique()} distinct"
        rows.append([str(name), str(column.dtype), int(column.isna().sum()), summary])
    return rows


def sample_rows(frame: pd.DataFrame, limit: int = SAMPLE_ROWS) -> tuple[list[str], list[list[Any]]]:
    head = frame.head(limit)
    return [str(c) for c in head.columns], [list(row) for row in head.itertuples(index=False)]
