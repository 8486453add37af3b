"""MLflow's semantic rules as pure functions, shared by every store so they cannot drift apart."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence

from mlkube import layout
from mlkube_operator.server.entities import (
    DatasetInput,
    Experiment,
    LifecycleStage,
    LoggedModel,
    LoggedModelStatus,
    Metric,
    ModelOutput,
    Run,
)
from mlkube_operator.server.errors import ErrorCode, MlflowError, invalid

RUN_NAME_TAG = "mlflow.runName"

# Generated run names read like "brisk-heron-417"; the words are ours, the idea MLflow's.
_ADJECTIVES = (
    "amber",
    "bold",
    "brisk",
    "calm",
    "clever",
    "crisp",
    "dapper",
    "eager",
    "fleet",
    "gentle",
    "glad",
    "hardy",
    "keen",
    "lively",
    "lucid",
    "mellow",
    "nimble",
    "plucky",
    "quiet",
    "rapid",
    "serene",
    "snappy",
    "steady",
    "sunny",
    "swift",
    "tidy",
    "vivid",
    "witty",
    "zesty",
    "noble",
)
_NOUNS = (
    "badger",
    "bison",
    "crane",
    "dolphin",
    "falcon",
    "ferret",
    "finch",
    "gecko",
    "heron",
    "ibex",
    "jaguar",
    "koala",
    "lemur",
    "lynx",
    "marten",
    "narwhal",
    "ocelot",
    "otter",
    "panda",
    "puffin",
    "quail",
    "raven",
    "salmon",
    "tapir",
    "toucan",
    "urchin",
    "walrus",
    "wombat",
    "yak",
    "zebra",
)


def generated_run_name() -> str:
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{secrets.randbelow(1000)}"


def new_run_id() -> str:
    return secrets.token_hex(16)


def new_logged_model_id() -> str:
    return f"m-{secrets.token_hex(16)}"


def new_logged_model(  # noqa: PLR0917  (MLflow's create-logged-model request, field by field)
    experiment: Experiment,
    name: str | None,
    source_run_id: str | None,
    model_type: str | None,
    params: dict[str, str],
    tags: dict[str, str],
    created_ms: int,
) -> LoggedModel:
    """A new MLflow 3 logged model of an active experiment, pending its files."""
    require_active_experiment(experiment, "logging models to it")
    model_id = new_logged_model_id()
    return LoggedModel(
        model_id=model_id,
        experiment_id=experiment.experiment_id,
        name=name or generated_run_name(),
        artifact_uri=model_artifact_uri(experiment, model_id),
        status=LoggedModelStatus.LOGGED_MODEL_PENDING,
        creation_timestamp_ms=created_ms,
        last_updated_timestamp_ms=created_ms,
        source_run_id=source_run_id,
        model_type=model_type,
        tags=dict(tags),
        params=dict(params),
    )


def run_name_and_tags(run_name: str | None, tags: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The run's name and its tags with ``mlflow.runName`` set to it."""
    tagged = tags.get(RUN_NAME_TAG)
    if run_name and tagged and run_name != tagged:
        raise invalid(
            f"both run_name ({run_name!r}) and the {RUN_NAME_TAG} tag ({tagged!r}) were given "
            "and differ; give one, or the same value in both"
        )
    name = run_name or tagged or generated_run_name()
    return name, {**tags, RUN_NAME_TAG: name}


def run_artifact_uri(experiment: Experiment, run_id: str) -> str:
    return layout.run_artifact_uri(experiment.artifact_location, run_id)


def model_artifact_uri(experiment: Experiment, model_id: str) -> str:
    return layout.logged_model_artifact_uri(experiment.artifact_location, model_id)


def require_active_experiment(experiment: Experiment, doing: str) -> None:
    if experiment.lifecycle_stage is not LifecycleStage.ACTIVE:
        raise MlflowError(
            ErrorCode.INVALID_STATE,
            f"the experiment {experiment.experiment_id} ({experiment.name!r}) is deleted; "
            f"restore it before {doing}",
        )


def require_active_run(run: Run) -> None:
    if run.info.lifecycle_stage is not LifecycleStage.ACTIVE:
        raise MlflowError(
            ErrorCode.INVALID_STATE,
            f"the run {run.info.run_id} is deleted; restore it before changing it",
        )


def merged_params(existing: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    """The params that are new (to be written); an existing key with another value is an
    error, because params are immutable once logged."""
    added: dict[str, str] = {}
    for key, value in new.items():
        old = existing.get(key)
        if old is None:
            added[key] = value
        elif old != value:
            raise invalid(
                f"changing param values is not allowed: param {key!r} was already logged with "
                f"value {old[:200]!r} for this run, and the new value is {value[:200]!r}"
            )
    return added


def check_batch_params(params: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The params of one request as a dict; the same key twice with different values is an
    error (twice with the same value is fine)."""
    out: dict[str, str] = {}
    for key, value in params:
        if key in out and out[key] != value:
            raise invalid(
                f"duplicate param {key!r} with different values ({out[key][:100]!r} and "
                f"{value[:100]!r}) in one request"
            )
        out[key] = value
    return out


def latest_metrics(current: dict[str, Metric], new: Sequence[Metric]) -> dict[str, Metric]:
    """The entries of ``current`` that ``new`` supersedes (MLflow's "latest" ordering)."""
    changed: dict[str, Metric] = {}
    for metric in new:
        best = changed.get(metric.key) or current.get(metric.key)
        if best is None or metric.order_key() >= best.order_key():
            changed[metric.key] = metric
    return changed


def history_order(points: Iterable[Metric]) -> list[Metric]:
    """Points ordered by timestamp, step, value; identical points collapsed."""
    unique = {(m.timestamp, m.step, m.value if m.value == m.value else "nan"): m for m in points}
    return sorted(unique.values(), key=lambda m: (m.timestamp, m.step, m.order_key()[2]))


def added_datasets(
    existing: Sequence[DatasetInput], new: Sequence[DatasetInput]
) -> list[DatasetInput]:
    seen = {(d.name, d.digest, d.context) for d in existing}
    out = []
    for dataset in new:
        identity = (dataset.name, dataset.digest, dataset.context)
        if identity not in seen:
            seen.add(identity)
            out.append(dataset)
    return out


def added_outputs(existing: Sequence[ModelOutput], new: Sequence[ModelOutput]) -> list[ModelOutput]:
    seen = set(existing)
    return [o for o in dict.fromkeys(new) if o not in seen]
