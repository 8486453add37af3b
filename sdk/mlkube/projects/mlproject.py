"""Reading an MLproject file (or a directory without one) into a typed Project.

The format is MLflow's: ``name``; at most one environment (``python_env`` file, ``conda_env``
file or ``docker_env {image, volumes, environment}``); ``entry_points.<name>`` with
``parameters.<p>`` given as a type name or ``{type, default}`` and a ``command`` with ``{p}``
placeholders. Without an MLproject, every ``.py`` and ``.sh`` file is an entry point.
"""

from __future__ import annotations

import shlex
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlkube.api.errors import problems_of

MLPROJECT = "MLproject"
SCRIPT_RUNNERS = {".py": "python", ".sh": "bash"}


class ProjectError(ValueError):
    """The project, an entry point or a parameter is invalid; the message says which and why."""


class ParameterType(StrEnum):
    STRING = "string"
    FLOAT = "float"
    INT = "int"
    PATH = "path"
    URI = "uri"


class Parameter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: ParameterType = ParameterType.STRING
    default: str | None = None


class EntryPoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    command: str
    parameters: dict[str, Parameter] = Field(default_factory=dict)


class DockerEnv(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    image: str
    volumes: list[str] = Field(default_factory=list)
    environment: list[str | list[str]] = Field(default_factory=list)


class Project(BaseModel):
    """A parsed project; ``directory`` is where its files are."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    directory: Path
    entry_points: dict[str, EntryPoint]
    python_env: Path | None = None
    conda_env: Path | None = None
    docker_env: DockerEnv | None = None

    def entry_point(self, name: str) -> EntryPoint:
        """The named entry point, or a script of the project run with python/bash."""
        if name in self.entry_points:
            return self.entry_points[name]
        runner = SCRIPT_RUNNERS.get(Path(name).suffix)
        if runner and (self.directory / name).is_file():
            return EntryPoint(name=name, command=f"{runner} {shlex.quote(name)}")
        known = ", ".join(sorted(self.entry_points)) or "none"
        raise ProjectError(
            f"entry point {name!r} is not defined in the MLproject (defined: {known}) and is "
            f"not a .py or .sh file of the project"
        )


# -- parsing ----------------------------------------------------------------------------------


class _RawParameter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ParameterType = ParameterType.STRING
    default: str | int | float | None = None


class _RawEntryPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str = Field(min_length=1)
    parameters: dict[str, ParameterType | _RawParameter] = Field(default_factory=dict)


class _RawProject(BaseModel):
    # MLflow tolerates keys it does not know (e.g. databricks_spark_job); so do we.
    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    python_env: str | None = None
    conda_env: str | None = None
    docker_env: DockerEnv | None = None
    entry_points: dict[str, _RawEntryPoint] = Field(default_factory=dict)


def _default_text(value: str | int | float | None) -> str | None:
    return None if value is None else str(value)


def parse_mlproject(text: str, directory: Path) -> Project:
    """Parse MLproject ``text`` for a project in ``directory``."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ProjectError(f"MLproject is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ProjectError("MLproject must be a YAML mapping with name and entry_points")
    try:
        raw = _RawProject.model_validate(data)
    except ValidationError as err:
        raise ProjectError("MLproject: " + "; ".join(problems_of(err))) from None
    envs = [k for k in ("python_env", "conda_env", "docker_env") if getattr(raw, k) is not None]
    if len(envs) > 1:
        raise ProjectError(
            f"MLproject: set at most one of python_env, conda_env, docker_env "
            f"(got {', '.join(envs)})"
        )
    entry_points = {}
    for ep_name, ep in raw.entry_points.items():
        params = {}
        for p_name, p in ep.parameters.items():
            if isinstance(p, _RawParameter):
                params[p_name] = Parameter(
                    name=p_name, type=p.type, default=_default_text(p.default)
                )
            else:
                params[p_name] = Parameter(name=p_name, type=p)
        entry_points[ep_name] = EntryPoint(name=ep_name, command=ep.command, parameters=params)
    return Project(
        name=raw.name or directory.name,
        directory=directory,
        entry_points=entry_points,
        python_env=_inside(directory, raw.python_env, "python_env"),
        conda_env=_inside(directory, raw.conda_env, "conda_env"),
        docker_env=raw.docker_env,
    )


def _inside(directory: Path, relative: str | None, field: str) -> Path | None:
    if relative is None:
        return None
    path = (directory / relative).resolve()
    if not path.is_relative_to(directory.resolve()):
        raise ProjectError(
            f"MLproject: {field} must be a file inside the project, got {relative!r}"
        )
    return path


def load_project(directory: Path) -> Project:
    """Load the project in ``directory``: its MLproject, or its scripts when it has none."""
    directory = directory.resolve()
    if not directory.is_dir():
        raise ProjectError(f"project directory {directory} does not exist")
    mlproject = directory / MLPROJECT
    if mlproject.is_file():
        return parse_mlproject(mlproject.read_text(), directory)
    python_env = directory / "python_env.yaml"
    return Project(
        name=directory.name,
        directory=directory,
        entry_points={},
        python_env=python_env if python_env.is_file() else None,
    )
