"""ingest: the data from ``load_data()`` in steps/ingest.py, checked and stored as parquet."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlkube.recipes import hooks, plots
from mlkube.recipes.cards import Card
from mlkube.recipes.context import Context, Output, Record
from mlkube.recipes.errors import RecipeError
from mlkube.recipes.metrics import positive_label
from mlkube.recipes.steps import frames

DATA = "dataset.parquet"


def _checked(frame: Any, ctx: Context) -> pd.DataFrame:
    where = hooks.hook_file(ctx.directory, "ingest")
    if not isinstance(frame, pd.DataFrame):
        raise RecipeError(f"{where}: load_data() returned {type(frame).__name__}, not a DataFrame")
    target = ctx.recipe.target_col
    if target not in frame.columns:
        shown = ", ".join(str(c) for c in frame.columns[:30])
        raise RecipeError(f"target_col: {target!r} is not a column of the data (columns: {shown})")
    if len(frame) < 10:
        raise RecipeError(f"{where}: load_data() returned {len(frame)} rows; a recipe needs 10")
    missing = int(frame[target].isna().sum())
    if missing:
        raise RecipeError(
            f"target_col: {missing} rows have no {target!r}; drop them in load_data()"
        )
    if ctx.recipe.recipe == "classification":
        _check_classes(frames.labels(frame[target]), ctx)
    # Parquet wants string column names; a fresh index keeps row numbers meaningful in cards.
    frame = frame.rename(columns=str).reset_index(drop=True)
    return frame


def _check_classes(labels: list[Any], ctx: Context) -> None:
    recipe = ctx.recipe
    if len(labels) < 2:
        raise RecipeError(
            f"target_col: {recipe.target_col!r} has one class; a classifier needs two"
        )
    if len(labels) == 2:
        positive_label(recipe, labels)  # refuses a positive_class that is not a label
    elif recipe.positive_class is not None:
        raise RecipeError(
            f"positive_class: only for two classes; {recipe.target_col!r} has {len(labels)} "
            "(metrics are averaged over the classes)"
        )


def execute(ctx: Context) -> Output:
    frame = _checked(hooks.load(ctx.directory, "ingest")(), ctx)
    frames.write(frame, ctx.outputs("ingest") / DATA)
    recipe = ctx.recipe
    target = frame[recipe.target_col]
    card = Card("ingest", f"Ingest: {len(frame)} rows, {frame.shape[1]} columns")
    card.facts("Data", {"rows": len(frame), "columns": frame.shape[1], "target": recipe.target_col})
    card.table("Columns", ["column", "type", "missing", "values"], frames.schema_rows(frame))
    if recipe.recipe == "regression":
        figure = {f"{recipe.target_col}": plots.histogram(target.to_numpy(), recipe.target_col)}
    else:
        figure = {"class balance": plots.class_balance({"all rows": frames.class_counts(target)})}
    card.plots("Target", figure)
    card.table("First rows", *frames.sample_rows(frame))
    return Output(
        value=frame,
        card=card,
        params={"ingest.rows": len(frame), "ingest.columns": frame.shape[1]},
        summary=f"{len(frame)} rows, {frame.shape[1]} columns",
    )


def load(ctx: Context, record: Record) -> pd.DataFrame:
    return frames.read(ctx.files("ingest") / DATA)
