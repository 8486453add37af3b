"""MLflow's registry rules as pure functions, shared by every registry store and the HTTP edge.

Names, aliases, stages and versions are checked here with MLflow's error codes; the messages
follow MLflow's where clients or users may match on them ("not found" phrasing).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

from mlkube_operator.server.errors import invalid, not_found
from mlkube_operator.server.limits import check_key, check_length
from mlkube_operator.server.store.registry.entities import ModelVersion, Stage

MAX_MODEL_NAME = 500  # spec.displayName's limit (RegisteredModel CRD)
MAX_TAG_VALUE = 100_000
MAX_DESCRIPTION = 100_000
MAX_ALIAS = 255
# MLflow allows any word character; the RegisteredModel CRD (spec.aliases keys) only ASCII ones.
ALIAS = re.compile(r"[A-Za-z0-9_-]+")
VERSION_ALIAS = re.compile(r"[vV]\d+")
LATEST_ALIAS = "latest"
PROMPT_TAG = "mlflow.prompt.is_prompt"
# Derived on every read of a version from the ModelDeployments that serve it (the Kubernetes
# registry store, kube/serving.py); no one writes it.
DEPLOYMENTS_TAG = "mlkube.deployments"
STAGE_ORDER = (Stage.NONE, Stage.STAGING, Stage.PRODUCTION, Stage.ARCHIVED)
ACTIVE_STAGES = (Stage.STAGING, Stage.PRODUCTION)


def check_model_name(name: str | None, field: str = "name") -> str:
    if name is None or not name.strip():
        raise invalid(f"missing value for required parameter '{field}'")
    if "/" in name or ":" in name:
        raise invalid(f"invalid model name {name!r}: names cannot contain '/' or ':'")
    check_length(f"model name {name[:40]!r}", name, MAX_MODEL_NAME)
    if "\x00" in name or posixpath.normpath(name) != name:
        raise invalid(f"invalid model name {name!r}: it must not be a path that resolves elsewhere")
    return name


def check_alias(alias: str | None) -> str:
    if not alias:
        raise invalid("Registered model alias name cannot be empty.")
    check_length("alias", alias, MAX_ALIAS)
    if not ALIAS.fullmatch(alias):
        raise invalid(
            f"invalid alias name {alias!r}: aliases may hold letters, digits, '_' and '-' only"
        )
    return alias


def check_settable_alias(alias: str | None) -> str:
    """An alias that may be set: also not ``latest`` and not a version name like ``v3``."""
    checked = check_alias(alias)
    if checked.lower() == LATEST_ALIAS:
        raise invalid("'latest' alias name (case insensitive) is reserved.")
    if VERSION_ALIAS.fullmatch(checked):
        raise invalid(f"Version alias name '{checked}' is reserved.")
    return checked


def check_tag(key: str, value: str) -> None:
    check_key("tag", key)
    check_length(f"value of tag {key!r}", value, MAX_TAG_VALUE)


def check_version_tag(key: str, value: str) -> None:
    """A tag a client may set on (or delete from) a model version: not a derived one."""
    check_tag(key, value)
    if key == DEPLOYMENTS_TAG:
        raise invalid(
            f"tag {key!r} cannot be set or deleted: mlkube derives it from the ModelDeployments "
            "of this namespace that serve the version (their status), so it always says what is "
            "served; deploy the version with a ModelDeployment instead, or use another key"
        )


def check_description(text: str) -> str:
    check_length("description", text, MAX_DESCRIPTION)
    return text


def canonical_stage(text: str) -> Stage:
    """A stage name in any case (``production``) as its canonical spelling."""
    for stage in Stage:
        if stage.value.lower() == text.strip().lower():
            return stage
    names = ", ".join(s.value for s in Stage)
    raise invalid(f"Invalid Model Version stage: {text!r:.80}. Value must be one of {names}.")


def check_archiving(stage: Stage, archive_existing_versions: bool) -> None:
    if archive_existing_versions and stage not in ACTIVE_STAGES:
        raise invalid(
            f"Model version transition cannot archive existing model versions because "
            f"'{stage.value}' is not an active stage; valid stages are Staging and Production"
        )


def latest_per_stage(versions: Iterable[ModelVersion]) -> tuple[ModelVersion, ...]:
    """The highest version in each stage, in stage order (MLflow's latest_versions)."""
    best: dict[Stage, ModelVersion] = {}
    for version in versions:
        held = best.get(version.current_stage)
        if held is None or version.version > held.version:
            best[version.current_stage] = version
    return tuple(best[s] for s in STAGE_ORDER if s in best)


def aliases_of(aliases: dict[str, int], version: int) -> tuple[str, ...]:
    return tuple(sorted(a for a, v in aliases.items() if v == version))


def model_not_found(name: str) -> Exception:
    return not_found(f"Registered Model with name={name} not found")


def version_not_found(name: str, version: int) -> Exception:
    return not_found(f"Model Version (name={name}, version={version}) not found")


def alias_not_found(name: str, alias: str) -> Exception:
    # MLflow answers INVALID_PARAMETER_VALUE here, not RESOURCE_DOES_NOT_EXIST.
    return invalid(f"Registered model alias {alias} not found for model {name}.")


def is_prompt(tags: dict[str, str]) -> bool:
    """MLflow keeps prompts as registered models tagged so; searches leave them out."""
    return tags.get(PROMPT_TAG, "").lower() == "true"
