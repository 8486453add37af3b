"""split: train, validation and test sets in the configured ratios (stratified by class for a
classification recipe whenever every class has enough rows)."""

from __future__ import annotations

import pandas as pd
from sklearn.model_selection import train_test_split

from mlkube.recipes import plots
from mlkube.recipes.cards import Card
from mlkube.recipes.context import Context, Output, Record
from mlkube.recipes.errors import RecipeError
from mlkube.recipes.steps import frames

SPLITS = ("train", "validation", "test")


def _split(
    frame: pd.DataFrame, fraction: float, seed: int, by: pd.Series | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(kept, taken): ``fraction`` of the rows taken, stratified by ``by`` when it can be."""
    try:
        kept, taken = train_test_split(frame, test_size=fraction, random_state=seed, stratify=by)
    except ValueError:
        if by is None:
            raise
        # A class with too few rows to appear in both parts: split without stratifying.
        kept, taken = train_test_split(frame, test_size=fraction, random_state=seed)
    return kept, taken


def execute(ctx: Context) -> Output:
    recipe = ctx.recipe
    settings = recipe.steps.split
    _train_share, validation_share, test_share = settings.split_ratios
    frame = ctx.value("ingest")
    target = recipe.target_col
    stratify = recipe.recipe == "classification"
    try:
        train, rest = _split(
            frame, validation_share + test_share, settings.seed, frame[target] if stratify else None
        )
        validation, test = _split(
            rest,
            test_share / (validation_share + test_share),
            settings.seed,
            rest[target] if stratify else None,
        )
    except ValueError as err:
        raise RecipeError(f"steps.split: {len(frame)} rows cannot be split so: {err}") from None
    parts = {"train": train, "validation": validation, "test": test}
    out = ctx.outputs("split")
    for name, part in parts.items():
        frames.write(part, out / f"{name}.parquet")
    card = Card("split", "Split: " + ", ".join(f"{len(p)} {n}" for n, p in parts.items()))
    card.table(
        "Splits",
        ["split", "rows", "share", f"{target} mean" if not stratify else "classes"],
        [
            [
                name,
                len(part),
                len(part) / len(frame),
                part[target].nunique() if stratify else float(part[target].mean()),
            ]
            for name, part in parts.items()
        ],
    )
    if stratify:
        balance = {name: frames.class_counts(part[target]) for name, part in parts.items()}
        card.plots("Class balance per split", {"share of each class": plots.class_balance(balance)})
    else:
        card.plots(
            "Target per split",
            {
                name: plots.histogram(part[target].to_numpy(), target)
                for name, part in parts.items()
            },
        )
    return Output(
        value=parts,
        card=card,
        params={
            "split.ratios": ",".join(str(r) for r in settings.split_ratios),
            "split.seed": settings.seed,
            **{f"split.{name}_rows": len(part) for name, part in parts.items()},
        },
        summary=", ".join(f"{name} {len(part)}" for name, part in parts.items()),
    )


def load(ctx: Context, record: Record) -> dict[str, pd.DataFrame]:
    folder = ctx.files("split")
    return {name: frames.read(folder / f"{name}.parquet") for name in SPLITS}
