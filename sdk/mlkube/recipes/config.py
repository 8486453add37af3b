"""``recipe.yaml`` and ``profiles/<name>.yaml`` as typed models, checked whole before any step runs.

Every problem is reported at once as ``path: message``, the path in the names the user wrote
(``steps.split.split_ratios: ...``), with the values a field allows. This does not reuse
``mlkube.api.errors``: that one speaks of Kubernetes specs (camelCase, ``kubectl explain``), and
these modules travel alone into a Run's pod (package docstring).
"""

from __future__ import annotations

import math
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from mlkube.recipes.errors import RecipeError

RECIPE_FILE = "recipe.yaml"
PROFILES = "profiles"
Kind = Literal["regression", "classification"]
Direction = Literal["at_most", "at_least"]
# The metrics each kind computes, and which way is better: a criterion's default direction.
METRICS: dict[str, dict[str, Direction]] = {
    "regression": {"rmse": "at_most", "mae": "at_most", "r2": "at_least"},
    "classification": {
        "accuracy": "at_least",
        "precision": "at_least",
        "recall": "at_least",
        "f1": "at_least",
        "roc_auc": "at_least",
        "log_loss": "at_most",
    },
}
# Steps in the order they run; `predict` is run on its own (`--step predict`).
TRAINING = ("ingest", "split", "transform", "train", "evaluate", "register")
STEPS = (*TRAINING, "predict")
DnsLabel = Annotated[
    str, StringConstraints(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
]
# MLflow's rule for aliases: letters, digits, `_` and `-`; `latest` and `v<digits>` are taken.
Alias = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[\w-]+$")]


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestSettings(Settings):
    """Data comes from ``load_data()`` in steps/ingest.py; nothing to set here."""


def _skops_types() -> Any:
    return Field(
        default_factory=list,
        description="types the model holds beyond those skops trusts (saving fails naming them)",
    )


class TransformSettings(Settings):
    """The transformer comes from ``transformer()`` in steps/transform.py."""

    skops_trusted_types: list[str] = _skops_types()


class SplitSettings(Settings):
    split_ratios: tuple[float, float, float] = Field(
        (0.75, 0.125, 0.125), description="fractions of the rows for train, validation and test"
    )
    seed: int = 42

    @field_validator("split_ratios")
    @classmethod
    def _sum_to_one(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(not 0 < part < 1 for part in value):
            raise ValueError(f"each fraction must be between 0 and 1 (exclusive), got {value}")
        if not math.isclose(sum(value), 1.0, abs_tol=1e-6):
            shown = " + ".join(str(part) for part in value)
            raise ValueError(
                f"train, validation and test fractions must sum to 1, got {shown} = {sum(value):g}"
            )
        return value


class TrainSettings(Settings):
    estimator_params: dict[str, Any] = Field(
        default_factory=dict, description="keyword arguments for estimator() in steps/train.py"
    )
    skops_trusted_types: list[str] = _skops_types()


class Criterion(Settings):
    metric: str
    threshold: float
    direction: Direction | None = Field(
        None, description="at_most or at_least; the metric's better direction when left out"
    )


class EvaluateSettings(Settings):
    validation_criteria: list[Criterion] = Field(default_factory=list)


class RegisterSettings(Settings):
    registered_model_name: str | None = Field(
        None, min_length=1, max_length=250, description="default: the recipe's name"
    )
    alias: Alias | None = None
    allow_non_validated_model: bool = False


class PredictSettings(Settings):
    alias: Alias | None = Field(None, description="default: steps.register.alias")
    input_path: str | None = Field(
        None,
        description="a .csv or .parquet file in the recipe directory to score; default: the "
        "ingested data without its target column",
    )


class StepSettings(Settings):
    # `register` would shadow BaseModel.register (ABCMeta's): the field is `register_`, spelt
    # `register` in YAML and in error paths.
    model_config = ConfigDict(populate_by_name=True)

    ingest: IngestSettings = IngestSettings()
    split: SplitSettings = SplitSettings()
    transform: TransformSettings = TransformSettings()
    train: TrainSettings = TrainSettings()
    evaluate: EvaluateSettings = EvaluateSettings()
    register_: RegisterSettings = Field(RegisterSettings(), alias="register")
    predict: PredictSettings = PredictSettings()

    @property
    def register(self) -> RegisterSettings:
        return self.register_

    def of(self, step: str) -> Settings:
        settings: Settings = getattr(self, "register_" if step == "register" else step)
        return settings


class Recipe(Settings):
    recipe: Kind
    name: DnsLabel = Field(description="the experiment's name, and the model's by default")
    target_col: str = Field(min_length=1)
    primary_metric: str
    positive_class: str | int | None = Field(
        None, description="binary classification: the label that counts as positive"
    )
    steps: StepSettings = StepSettings()

    @property
    def model_name(self) -> str:
        return self.steps.register.registered_model_name or self.name

    def direction(self, criterion: Criterion) -> Direction:
        return criterion.direction or METRICS[self.recipe][criterion.metric]


class Profile(Settings):
    runs_on: Literal["local", "cluster"] = Field(
        description="local: in this process, against MLFLOW_TRACKING_URI; cluster: as a Run"
    )
    namespace: DnsLabel | None = Field(None, description="the workspace (Kubernetes namespace)")
    image: str | None = Field(None, description="cluster: the Run's image (default: the runtime)")
    timeout_seconds: int = Field(3600, gt=0, le=86400, description="cluster: the Run's deadline")


# -- reading ------------------------------------------------------------------------------


def _path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The field names of the model found at ``loc`` (for "unknown field" messages)."""
    current: Any = model
    for part in loc:
        while typing.get_origin(current) in {Union, types.UnionType, list, tuple, Annotated}:
            args = [a for a in typing.get_args(current) if a is not type(None)]
            current = args[0]
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        current = current.model_fields[part].annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _message(error: Any, model: type[BaseModel]) -> str:
    kind, msg = error["type"], str(error["msg"])
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "extra_forbidden":
        allowed = ", ".join(_fields_at(model, error["loc"][:-1])) or "none"
        return f"unknown field (allowed: {allowed})"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch" and "a-z0-9" in msg:
        msg = "Expected a DNS label: lowercase letters, digits and '-', at most 63"
    shown = repr(error.get("input"))
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return f"{msg[0].lower()}{msg[1:]}, got {shown}"


def _listed(where: str, problems: list[str]) -> str:
    return f"{where}:" + "".join(f"\n  {problem}" for problem in problems)


def _validated(model: type[Settings], data: Any, where: str) -> Any:
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as err:
        problems = [f"{_path(e['loc'])}: {_message(e, model)}" for e in err.errors()]
        raise RecipeError(_listed(where, problems)) from None


def _kind_problems(recipe: Recipe) -> list[str]:
    """What only makes sense once the kind is known: metric names, the positive class."""
    known = METRICS[recipe.recipe]
    allowed = ", ".join(known)
    problems = []
    if recipe.primary_metric not in known:
        problems.append(
            f"primary_metric: unknown metric {recipe.primary_metric!r} for a {recipe.recipe} "
            f"recipe (allowed: {allowed})"
        )
    for i, criterion in enumerate(recipe.steps.evaluate.validation_criteria):
        if criterion.metric not in known:
            problems.append(
                f"steps.evaluate.validation_criteria[{i}].metric: unknown metric "
                f"{criterion.metric!r} for a {recipe.recipe} recipe (allowed: {allowed})"
            )
    if recipe.recipe == "regression" and recipe.positive_class is not None:
        problems.append("positive_class: only a classification recipe has classes")
    return problems


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise RecipeError(f"{path} does not exist") from None
    except yaml.YAMLError as err:
        raise RecipeError(f"{path} is not valid YAML: {err}") from None


def load_recipe(directory: Path) -> Recipe:
    """The recipe in ``directory``, or RecipeError naming every problem in its recipe.yaml."""
    where = directory / RECIPE_FILE
    recipe: Recipe = _validated(Recipe, _yaml(where), str(where))
    problems = _kind_problems(recipe)
    if problems:
        raise RecipeError(_listed(str(where), problems))
    return recipe


def load_profile(directory: Path, name: str) -> Profile:
    """``profiles/<name>.yaml`` of the recipe in ``directory``."""
    folder = directory / PROFILES
    known = sorted(p.stem for p in folder.glob("*.yaml"))
    if not re.fullmatch(r"[\w.-]+", name) or name not in known:
        raise RecipeError(
            f"profile {name!r}: no {folder / (name + '.yaml')} (profiles here: "
            f"{', '.join(known) or 'none'})"
        )
    where = folder / f"{name}.yaml"
    profile: Profile = _validated(Profile, _yaml(where), str(where))
    return profile
