"""register: a new version of the registered model, made only from a model that passed every
validation criterion (or with ``allow_non_validated_model``), tagged with the run, the test
metrics and the verdict. mlflow's ``register_model`` creates the ModelVersion through the tracking
server and waits until the operator has copied and checked it (Ready)."""

from __future__ import annotations

from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlkube.recipes.cards import Card, shown
from mlkube.recipes.context import Context, Output, Record
from mlkube.recipes.errors import ModelNotValidated, RecipeError
from mlkube.recipes.steps.evaluate import VALIDATION_TAG

# Seconds to wait for the registry to copy the model.
AWAIT_SECONDS = 300
VERSION_TAG = "mlkube.recipe.registered_version"
MODEL_TAG = "mlkube.recipe.registered_model"


def failures(criteria: list[dict[str, Any]]) -> list[str]:
    """Each failed criterion as ``metric = value, threshold: at most N``."""
    out = []
    for c in criteria:
        if c["passed"]:
            continue
        value = "not computed" if c["value"] is None else shown(float(c["value"]))
        bound = c["direction"].replace("_", " ")
        out.append(f"test {c['metric']} = {value}, threshold: {bound} {shown(c['threshold'])}")
    return out


def execute(ctx: Context) -> Output:
    recipe = ctx.recipe
    settings = recipe.steps.register
    verdict = ctx.records["evaluate"].info
    validated = bool(verdict["validated"])
    if not validated and not settings.allow_non_validated_model:
        failed = failures(verdict["criteria"])
        raise ModelNotValidated(
            f"model {recipe.model_name!r} was not registered: it failed "
            f"{len(failed)} of {len(verdict['criteria'])} validation criteria: "
            + "; ".join(failed)
            + " (steps.register.allow_non_validated_model: true registers it anyway)"
        )
    tags = {
        "mlkube.recipe.name": recipe.name,
        "mlkube.recipe.run_id": ctx.run_id,
        "mlkube.recipe.train_run_id": ctx.records["train"].run_id,
        VALIDATION_TAG: "passed" if validated else "not validated (allowed)",
        **{f"mlkube.recipe.test_{m}": shown(v) for m, v in verdict["test_metrics"].items()},
    }
    source = ctx.records["train"].info["model_uri"]
    try:
        created = mlflow.register_model(
            source, recipe.model_name, await_registration_for=AWAIT_SECONDS, tags=tags
        )
        # register_model waits for the version but returns what it created (still pending).
        version = ctx.client.get_model_version(recipe.model_name, created.version)
    except MlflowException as err:
        raise RecipeError(f"registering {source} as {recipe.model_name!r} failed: {err}") from None
    if version.status != "READY":
        raise RecipeError(
            f"version {version.version} of {recipe.model_name!r} is {version.status}: "
            f"{version.status_message or 'the registry did not say why'}"
        )
    card = Card("register", f"Register: {recipe.model_name} version {version.version}")
    card.facts(
        "Model version",
        {"model": recipe.model_name, "version": version.version, "source": source},
    )
    card.table("Tags", ["tag", "value"], [[k, v] for k, v in tags.items()])
    return Output(
        value=None,
        card=card,
        tags={MODEL_TAG: recipe.model_name, VERSION_TAG: str(version.version)},
        info={"model": recipe.model_name, "version": str(version.version)},
        summary=f"{recipe.model_name} version {version.version}",
    )


def still_valid(ctx: Context, record: Record) -> bool:
    """A cached registration holds only while its version is still there."""
    try:
        found = ctx.client.get_model_version(record.info["model"], record.info["version"])
    except MlflowException:
        return False
    return bool(found.status == "READY")


def promote(client: MlflowClient, model: str, version: str, alias: str) -> None:
    """Point ``alias`` at the version (it can change what a ModelDeployment serves)."""
    client.set_registered_model_alias(model, alias, version)


def load(ctx: Context, record: Record) -> None:
    """Nothing later loads; predict finds the version by its alias."""
