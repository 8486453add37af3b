"""``mlkube recipes init | run | inspect | clean``: plain functions of the command's options, each
returning the exit code (the CLI only parses and calls them).

The tracking server is MLflow's usual ``MLFLOW_TRACKING_URI`` (and ``MLFLOW_TRACKING_TOKEN``); the
namespace (the MLflow workspace) is ``--namespace``, else the profile's, else
``MLKUBE_NAMESPACE``; the cluster profile falls back to ``default``, the local one to the
tracking server's default workspace.
"""

from __future__ import annotations

import shutil
import string
import sys
from collections.abc import Mapping
from pathlib import Path

import mlflow
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlkube.recipes import cache
from mlkube.recipes.config import RECIPE_FILE, STEPS, Profile, Recipe, load_profile, load_recipe
from mlkube.recipes.context import CARDS, fetch_file
from mlkube.recipes.errors import RecipeError
from mlkube.recipes.plan import plan

KINDS = ("regression", "classification")
TEMPLATES = Path(__file__).parent / "templates"
# The recipe's local scratch: the last local run's step outputs and cards (cluster.LOCAL_ONLY).
WORK = ".mlkube"


def _fail(err: Exception) -> int:
    print(f"error: {err}", file=sys.stderr)
    return 1


def init(kind: str, directory: Path) -> int:
    """Write a runnable recipe of ``kind`` into ``directory`` (new, or without a recipe)."""
    from mlkube.client.submit import slug

    if kind not in KINDS:
        return _fail(RecipeError(f"unknown recipe {kind!r} (recipes: {', '.join(KINDS)})"))
    if (directory / RECIPE_FILE).exists():
        return _fail(RecipeError(f"{directory / RECIPE_FILE} exists; init writes a new recipe"))
    name = slug(directory.resolve().name)
    for source_root in (TEMPLATES / "common", TEMPLATES / kind):
        for source in sorted(source_root.rglob("*")):
            if not source.is_file() or "__pycache__" in source.parts:
                continue
            relative = source.relative_to(source_root)
            target = directory / (".gitignore" if relative.name == "gitignore" else relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            text = source.read_text()
            if relative.name == RECIPE_FILE:
                text = string.Template(text).substitute(name=name)
            target.write_text(text)
    print(f"wrote a {kind} recipe named {name} to {directory}")
    print(f"  run it here:        mlkube recipes run {directory} --profile local")
    print(f"  or as a Run:        mlkube recipes run {directory} --profile cluster")
    return 0


def _load(directory: Path, profile_name: str) -> tuple[Recipe, Profile]:
    return load_recipe(directory), load_profile(directory, profile_name)


def _namespace(given: str | None, profile: Profile, env: Mapping[str, str]) -> str | None:
    return given or profile.namespace or env.get("MLKUBE_NAMESPACE") or None


def _client(namespace: str | None) -> MlflowClient:
    """A client of the tracking server, in ``namespace``'s workspace when one is chosen."""
    if namespace:
        mlflow.set_workspace(namespace)
    return MlflowClient()


def run(
    directory: Path,
    step: str | None,
    profile_name: str,
    namespace: str | None,
    env: Mapping[str, str],
) -> int:
    """Run the recipe through ``step`` (default: register) where the profile says."""
    try:
        recipe, profile = _load(directory, profile_name)
        plan(recipe, step)  # refuse a bad --step before anything starts
    except RecipeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    chosen = _namespace(namespace, profile, env)
    if profile.runs_on == "cluster":
        from mlkube.recipes import cluster

        return cluster.submit(
            directory, recipe, profile, step, namespace=chosen or "default", env=env
        )
    from mlkube.recipes import engine

    _client(chosen)  # the steps' own mlflow calls work in the chosen workspace too
    try:
        engine.run(recipe, directory, step, work=directory / WORK, may_set_alias=True, new_run=True)
    except (RecipeError, MlflowException) as err:
        return _fail(err)
    print(f"cards: {directory / WORK / CARDS}")
    return 0


def _latest_run(recipe: Recipe, namespace: str | None) -> Run | None:
    client = _client(namespace)
    experiment = client.get_experiment_by_name(recipe.name)
    if experiment is None:
        return None
    found = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{cache.RECIPE_TAG}` = '{recipe.name}'",
        max_results=1,
        order_by=["attributes.start_time DESC"],
    )
    return found[0] if found else None


def inspect(
    directory: Path,
    step: str | None,
    profile_name: str,
    namespace: str | None,
    env: Mapping[str, str],
) -> int:
    """What the recipe's latest run did in each step; with ``step``, fetch that step's card."""
    try:
        recipe, profile = _load(directory, profile_name)
        if step is not None and step not in STEPS:
            raise RecipeError(f"--step: unknown step {step!r} (steps: {', '.join(STEPS)})")
        latest = _latest_run(recipe, _namespace(namespace, profile, env))
    except (RecipeError, MlflowException) as err:
        return _fail(err)
    if latest is None:
        print(f"recipe {recipe.name}: no runs yet")
        return 1 if step else 0
    info, data = latest.info, latest.data
    print(f"recipe {recipe.name}: latest run {info.run_id} ({info.status})")
    for name in STEPS:
        state = data.tags.get(cache.state_tag(name), "not run")
        origin = data.tags.get(cache.from_tag(name))
        print(f"  {name:<10} {state}" + (f" (from run {origin})" if origin else ""))
    tested = {k: v for k, v in sorted(data.metrics.items()) if k.startswith("test_")}
    if tested:
        print("  " + ", ".join(f"{k}={v:.4g}" for k, v in tested.items()))
    if step is None:
        return 0
    if cache.state_tag(step) not in data.tags or data.tags[cache.state_tag(step)] == "refused":
        return _fail(RecipeError(f"step {step} has no card in run {info.run_id}"))
    try:
        card = fetch_file(
            info.run_id, f"{CARDS}/{step}.html", directory / WORK / CARDS / f"{step}.html"
        )
    except MlflowException as err:
        return _fail(err)
    print(f"card: {card}")
    return 0


def clean(directory: Path, profile_name: str, namespace: str | None, env: Mapping[str, str]) -> int:
    """Forget the recipe's cached steps (the next run computes all) and remove its scratch."""
    try:
        recipe, profile = _load(directory, profile_name)
        client = _client(_namespace(namespace, profile, env))
        experiment = client.get_experiment_by_name(recipe.name)
        count = (
            0 if experiment is None else cache.forget(client, experiment.experiment_id, recipe.name)
        )
    except (RecipeError, MlflowException) as err:
        return _fail(err)
    shutil.rmtree(directory / WORK, ignore_errors=True)
    print(f"recipe {recipe.name}: forgot {count} cached steps (the runs stay, as history)")
    return 0
