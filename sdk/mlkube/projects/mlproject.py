"""Reading an MLproject file (or a directory without one) into a typed Project.

The format is MLflow's: ``name``; at most one environment (``python_env`` file, ``conda_env``
file or ``docker_env {image, volumes, environment}``); ``entry_points.<name>`` with
``parameters.<p>`` given as a type name or ``{type, default}`` and a ``command`` with ``{p}``
placeholders. Without an MLproject, every ``.py`` and ``.sh`` file is an entry point.

The one parser for both ends: ``mlkube run`` checks a project with it before uploading, and the
runner in the Run's pod (``mlkube.projects.bundle``) runs it on whatever python3 the user's image
has. So this module needs only the standard library and PyYAML, and nothing newer than Python
3.9 at run time (ruff checks its syntax against 3.9: ``per-file-target-version`` in
pyproject.toml; annotations are never evaluated).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

MLPROJECT = "MLproject"
SCRIPT_RUNNERS = {".py": "python", ".sh": "bash"}

ParameterType = Literal["string", "float", "int", "path", "uri"]
PARAMETER_TYPES: tuple[ParameterType, ...] = ("string", "float", "int", "path", "uri")


class ProjectError(ValueError):
    """The project, an entry point or a parameter is invalid; the message says which and why."""


@dataclass(frozen=True)
class Parameter:
    name: str
    type: ParameterType = "string"
    default: str | None = None


@dataclass(frozen=True)
class EntryPoint:
    name: str
    command: str
    parameters: dict[str, Parameter] = field(default_factory=dict)


@dataclass(frozen=True)
class DockerEnv:
    image: str
    volumes: list[str] = field(default_factory=list)
    environment: list[str | list[str]] = field(default_factory=list)


@dataclass(frozen=True)
class Project:
    """A parsed project; ``directory`` is where its files are."""

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
# A small checker instead of a validation library: every problem is collected as
# `path: message` (e.g. `entry_points.main.parameters.alpha.type: expected one of ...`), so one
# error names everything that is wrong, as the resource models' errors do (mlkube.api.errors).


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def wrong(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def mapping(self, value: Any, path: str) -> dict[str, Any] | None:
        """``value`` as a mapping with string keys; None (absent) is an empty one."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.wrong(path, f"expected a mapping, got {_shown(value)}")
            return None
        return {str(key): item for key, item in value.items()}

    def string(self, value: Any, path: str, *, required: bool = False) -> str | None:
        if value is None:
            if required:
                self.wrong(path, "required field is missing")
            return None
        if not isinstance(value, str) or (required and not value):
            expected = "a non-empty string" if required else "a string"
            self.wrong(path, f"expected {expected}, got {_shown(value)}")
            return None
        return value

    def strings(self, value: Any, path: str) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.wrong(path, f"expected a list of strings, got {_shown(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            else:
                self.wrong(f"{path}[{i}]", f"expected a string, got {_shown(item)}")
        return out

    def only(self, data: Mapping[str, Any], path: str, allowed: tuple[str, ...]) -> None:
        for key in data:
            if key not in allowed:
                self.wrong(f"{path}.{key}", f"unknown field (allowed: {', '.join(allowed)})")


def _parameter(check: _Checker, name: str, value: Any, path: str) -> Parameter | None:
    if isinstance(value, str):  # the short form, `alpha: float`
        kind, default, type_path = value, None, path
    elif isinstance(value, dict):
        raw = {str(key): item for key, item in value.items()}
        check.only(raw, path, ("type", "default"))
        kind, default, type_path = raw.get("type", "string"), raw.get("default"), f"{path}.type"
    else:
        check.wrong(path, f"expected a type name or {{type, default}}, got {_shown(value)}")
        return None
    if kind not in PARAMETER_TYPES:
        check.wrong(type_path, f"expected one of {', '.join(PARAMETER_TYPES)}, got {_shown(kind)}")
        return None
    if default is not None and not isinstance(default, (str, int, float)):
        check.wrong(f"{path}.default", f"expected a string or a number, got {_shown(default)}")
        return None
    return Parameter(name=name, type=kind, default=None if default is None else str(default))


def _entry_point(check: _Checker, name: str, value: Any, path: str) -> EntryPoint | None:
    raw = check.mapping(value, path)
    if raw is None:
        return None
    check.only(raw, path, ("command", "parameters"))
    command = check.string(raw.get("command"), f"{path}.command", required=True)
    parameters = {}
    given = check.mapping(raw.get("parameters"), f"{path}.parameters") or {}
    for p_name, p_value in given.items():
        parameter = _parameter(check, p_name, p_value, f"{path}.parameters.{p_name}")
        if parameter is not None:
            parameters[p_name] = parameter
    if command is None:
        return None
    return EntryPoint(name=name, command=command, parameters=parameters)


def _docker_env(check: _Checker, value: Any) -> DockerEnv | None:
    raw = check.mapping(value, "docker_env")
    if raw is None:
        return None
    check.only(raw, "docker_env", ("image", "volumes", "environment"))
    image = check.string(raw.get("image"), "docker_env.image", required=True)
    volumes = check.strings(raw.get("volumes"), "docker_env.volumes")
    environment: list[str | list[str]] = []
    items = raw.get("environment")
    if items is not None and not isinstance(items, list):
        check.wrong("docker_env.environment", f"expected a list, got {_shown(items)}")
        items = []
    for i, item in enumerate(items or []):
        if isinstance(item, str):
            environment.append(item)
        else:
            environment.append(check.strings(item, f"docker_env.environment[{i}]"))
    return None if image is None else DockerEnv(image, volumes, environment)


def parse_mlproject(text: str, directory: Path) -> Project:
    """Parse MLproject ``text`` for a project in ``directory``."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ProjectError(f"MLproject is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ProjectError("MLproject must be a YAML mapping with name and entry_points")
    # MLflow tolerates top-level keys it does not know (e.g. databricks_spark_job); so do we.
    check = _Checker()
    name = check.string(data.get("name"), "name")
    python_env = check.string(data.get("python_env"), "python_env")
    conda_env = check.string(data.get("conda_env"), "conda_env")
    docker_env = None if data.get("docker_env") is None else _docker_env(check, data["docker_env"])
    entry_points = {}
    for ep_name, ep_value in (
        check.mapping(data.get("entry_points"), "entry_points") or {}
    ).items():
        entry_point = _entry_point(check, ep_name, ep_value, f"entry_points.{ep_name}")
        if entry_point is not None:
            entry_points[ep_name] = entry_point
    if check.problems:
        raise ProjectError("MLproject: " + "; ".join(check.problems))
    envs = [k for k in ("python_env", "conda_env", "docker_env") if data.get(k) is not None]
    if len(envs) > 1:
        raise ProjectError(
            f"MLproject: set at most one of python_env, conda_env, docker_env "
            f"(got {', '.join(envs)})"
        )
    return Project(
        name=name or directory.name,
        directory=directory,
        entry_points=entry_points,
        python_env=_inside(directory, python_env, "python_env"),
        conda_env=_inside(directory, conda_env, "conda_env"),
        docker_env=docker_env,
    )


def _inside(directory: Path, relative: str | None, key: str) -> Path | None:
    if relative is None:
        return None
    path = (directory / relative).resolve()
    if not path.is_relative_to(directory.resolve()):
        raise ProjectError(f"MLproject: {key} must be a file inside the project, got {relative!r}")
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
