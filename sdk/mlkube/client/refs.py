"""Model references as users type them, and what a ModelDeployment's spec makes of them.

``MODEL@ALIAS`` follows an alias (``diabetes@champion``), ``MODEL/VERSION`` names a fixed version
(``diabetes/3``) and ``MODEL/STAGE`` the latest version in a stage (``diabetes/Production``), as
MLflow's ``models:/`` URIs do; the ``models:/`` prefix may be written or left out. A canary adds
its share: ``MODEL@ALIAS:PERCENT``. Anything else is refused here, before a request is sent, with
a message that says which form to use.
"""

from __future__ import annotations

import re

from pydantic import ValidationError

from mlkube.api.errors import problems_of
from mlkube.api.model_deployment import Canary, ModelRef
from mlkube.api.model_version import Stage
from mlkube.client.errors import BadReference

FORMS = (
    "MODEL@ALIAS (diabetes@champion), MODEL/VERSION (diabetes/3) or MODEL/STAGE "
    "(diabetes/Production)"
)
# Stages a deployment can follow: None and Archived name no version anyone serves.
SERVABLE_STAGES = {Stage.STAGING.value, Stage.PRODUCTION.value}
_MODELS_URI = "models:/"
_LOGGED = re.compile(r"models:/m-[0-9a-f]{32}")


def _hint(text: str) -> str:
    """Why ``text`` is not a model reference, when it is recognisably something else."""
    if text.startswith(("runs:/", "s3://", "mlflow-artifacts:")):
        return (
            f"{text!r} is a model's files, not a registered model; register it first "
            "(`mlkube models register SOURCE --name MODEL`), then use"
        )
    if _LOGGED.fullmatch(text):
        return f"{text!r} is a logged model, not a registered one; register it first, then use"
    return f"{text!r} is not a model reference; use"


def parse_model_ref(text: str) -> ModelRef:
    """``diabetes@champion`` -> ModelRef(name=diabetes, alias=champion), and so on."""
    raw = text.strip()
    if raw.startswith(("runs:/", "s3://", "mlflow-artifacts:")) or _LOGGED.fullmatch(raw):
        raise BadReference(f"{_hint(raw)} {FORMS}")
    bare = raw.removeprefix(_MODELS_URI)
    fields: dict[str, object]
    if "@" in bare:
        name, _, alias = bare.partition("@")
        fields = {"name": name, "alias": alias}
    elif bare.count("/") == 1:
        name, _, which = bare.partition("/")
        if which.isdigit():
            fields = {"name": name, "version": int(which)}
        elif which.capitalize() in SERVABLE_STAGES:
            fields = {"name": name, "stage": which.capitalize()}
        else:
            raise BadReference(
                f"{text!r}: {which!r} is neither a version number nor a stage "
                f"({', '.join(sorted(SERVABLE_STAGES))}); use {FORMS}"
            )
    elif "/" in bare or ":" in bare or not bare:
        raise BadReference(f"{_hint(raw)} {FORMS}")
    else:
        raise BadReference(f"{text!r} names a model but not which version to serve; use {FORMS}")
    try:
        return ModelRef.model_validate(fields)
    except ValidationError as err:
        raise BadReference(f"{text!r}: {'; '.join(problems_of(err))}; use {FORMS}") from None


def parse_canary(text: str) -> Canary:
    """``diabetes@challenger:20`` -> a canary answering 20 % of requests."""
    ref, sep, percent = text.rpartition(":")
    if not sep or not percent.isdigit() or not 0 <= int(percent) <= 100:
        raise BadReference(
            f"canary {text!r}: expected MODEL_REFERENCE:PERCENT with a percent from 0 to 100, "
            "for example diabetes@challenger:20"
        )
    return Canary(model=parse_model_ref(ref), traffic_percent=int(percent))


def format_model_ref(ref: ModelRef) -> str:
    """The reference as a user would type it."""
    if ref.alias is not None:
        return f"{ref.name}@{ref.alias}"
    if ref.version is not None:
        return f"{ref.name}/{ref.version}"
    return f"{ref.name}/{ref.stage}"
