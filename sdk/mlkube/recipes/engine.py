"""Running a recipe's steps in this process, in one MLflow run: each step is found in the cache
or executed, and logged either way (params, metrics per split, tags, its card; the outputs of an
executed step under ``recipe/<step>/``), so every run shows the whole recipe.

The same code runs for the local profile (a new run in the recipe's experiment) and in a Run's
pod for the cluster profile (the Run's own run, named by ``MLFLOW_RUN_ID``).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from mlkube.recipes import cache
from mlkube.recipes.config import Recipe
from mlkube.recipes.context import CARDS, OUTPUTS, RESULT, Context, Output, Record, fetch_file
from mlkube.recipes.errors import ModelNotValidated
from mlkube.recipes.plan import REGISTRY, Step, plan
from mlkube.recipes.steps import register


def _say(text: str) -> None:
    print(text, flush=True)


def _card_path(ctx: Context, step: str) -> Path:
    return ctx.work / CARDS / f"{step}.html"


def _log(ctx: Context, record: Record, state: dict[str, str]) -> None:
    now = int(time.time() * 1000)
    ctx.client.log_batch(
        ctx.run_id,
        metrics=[Metric(k, v, now, 0) for k, v in record.metrics.items() if math.isfinite(v)],
        params=[Param(k, v) for k, v in record.params.items()],
        tags=[RunTag(k, v) for k, v in {**record.tags, **state}.items()],
    )
    ctx.client.log_artifact(ctx.run_id, str(_card_path(ctx, record.step)), CARDS)


def _log_cached(ctx: Context, hit: Record) -> None:
    fetch_file(hit.run_id, f"{CARDS}/{hit.step}.html", _card_path(ctx, hit.step))
    if hit.run_id != ctx.run_id:  # a retried pod finds its own run's entries
        _log(
            ctx,
            hit,
            {cache.state_tag(hit.step): "cached", cache.from_tag(hit.step): hit.run_id},
        )


def _log_executed(ctx: Context, record: Record, output: Output) -> None:
    folder = ctx.outputs(record.step)
    (folder / RESULT).write_text(json.dumps(record.result(), indent=1))
    card = _card_path(ctx, record.step)
    card.parent.mkdir(parents=True, exist_ok=True)
    header = {
        "recipe": ctx.recipe.name,
        "step": record.step,
        "run": ctx.run_id,
        "key": record.key[:16],
    }
    card.write_text(output.card.render(header))
    _log(ctx, record, {cache.state_tag(record.step): "ran"})
    ctx.client.log_artifacts(ctx.run_id, str(folder), f"{OUTPUTS}/{record.step}")
    # Last: the key tag commits the cache entry, once everything it points at is stored.
    ctx.client.set_tag(ctx.run_id, cache.key_tag(record.step), record.key)


def _step(ctx: Context, step: Step) -> None:
    upstream = {name: ctx.records[name].key for name in step.reads(ctx.recipe)}
    key = cache.step_key(ctx.recipe, ctx.directory, step.name, upstream, step.key_material(ctx))
    hit = cache.find(ctx.client, ctx.experiment_id, step.name, key, ctx.work)
    if hit is not None and step.still_valid(ctx, hit):
        ctx.records[step.name] = hit
        _log_cached(ctx, hit)
        _say(f"{step.name}: cached, from run {hit.run_id} (key {key[:12]})")
        return
    started = time.monotonic()
    try:
        output = step.execute(ctx)
    except ModelNotValidated:
        ctx.client.set_tag(ctx.run_id, cache.state_tag(step.name), "refused")
        raise
    record = Record(
        step=step.name,
        key=key,
        run_id=ctx.run_id,
        cached=False,
        params={k: str(v) for k, v in output.params.items()},
        metrics=dict(output.metrics),
        tags=dict(output.tags),
        info=dict(output.info),
        value=output.value,
        files=ctx.outputs(step.name),
    )
    ctx.records[step.name] = record
    _log_executed(ctx, record, output)
    _say(f"{step.name}: ran in {time.monotonic() - started:.1f} s: {output.summary}")


def _promote(ctx: Context) -> None:
    alias = ctx.recipe.steps.register.alias
    if alias is None or "register" not in ctx.records:
        return
    info = ctx.records["register"].info
    if not ctx.may_set_alias:
        _say(f"register: alias {alias!r} is moved by `mlkube recipes run` once the Run succeeds")
        return
    register.promote(ctx.client, info["model"], info["version"], alias)
    _say(f"register: {info['model']}@{alias} is version {info['version']}")


def run(
    recipe: Recipe,
    directory: Path,
    target: str | None,
    *,
    work: Path,
    may_set_alias: bool,
    new_run: bool,
) -> dict[str, Record]:
    """Go through the steps ``target`` needs (``plan``) in one MLflow run: a new one in the
    recipe's experiment (``new_run``), or the one MLFLOW_RUN_ID names (a Run's pod)."""
    steps = plan(recipe, target)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if new_run:
        mlflow.set_experiment(recipe.name)
    with mlflow.start_run(run_name=recipe.name if new_run else None) as active:
        mlflow.set_tags(
            {
                cache.RECIPE_TAG: recipe.name,
                "mlkube.recipe.kind": recipe.recipe,
                "mlkube.recipe.target": target or steps[-1],
            }
        )
        ctx = Context(
            recipe=recipe,
            directory=directory.resolve(),
            work=work,
            client=MlflowClient(),
            run_id=active.info.run_id,
            experiment_id=active.info.experiment_id,
            may_set_alias=may_set_alias,
            loaders={name: step.load for name, step in REGISTRY.items()},
        )
        _say(f"recipe {recipe.name}: run {ctx.run_id} in experiment {recipe.name}")
        for name in steps:
            _step(ctx, REGISTRY[name])
        _promote(ctx)
    return ctx.records
