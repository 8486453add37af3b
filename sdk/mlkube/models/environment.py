"""The environment files beside an MLmodel: requirements.txt, python_env.yaml and conda.yaml.

mlkube's own scoring server ignores them (the serving image holds the packages); MLflow's
``--env-manager virtualenv|conda`` reads them, so they pin what the model was saved with.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import yaml

REQUIREMENTS = "requirements.txt"
PYTHON_ENV = "python_env.yaml"
CONDA_ENV = "conda.yaml"


def pinned(distribution: str) -> str:
    """``name==version`` of an installed distribution, or the bare name when it is absent."""
    try:
        return f"{distribution}=={metadata.version(distribution)}"
    except metadata.PackageNotFoundError:
        return distribution


def write_environment(
    directory: Path,
    requirements: Iterable[str],
    extra_requirements: Iterable[str] = (),
) -> dict[str, str]:
    """Write the three files; return the ``env`` mapping of the python_function flavor."""
    lines = list(dict.fromkeys([*requirements, *extra_requirements]))
    (directory / REQUIREMENTS).write_text("\n".join(lines))
    python = platform.python_version()
    pip = pinned("pip")
    python_env = {
        "python": python,
        "build_dependencies": [pip, pinned("setuptools"), "wheel"],
        "dependencies": [f"-r {REQUIREMENTS}"],
    }
    (directory / PYTHON_ENV).write_text(yaml.safe_dump(python_env, sort_keys=False))
    conda = {
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", pip.replace("==", "<="), {"pip": lines}],
        "name": "mlflow-env",
    }
    (directory / CONDA_ENV).write_text(yaml.safe_dump(conda, sort_keys=False))
    return {"conda": CONDA_ENV, "virtualenv": PYTHON_ENV}


def read_requirements(directory: Path) -> list[str]:
    """The requirement lines of a model (comments and blanks dropped)."""
    path = directory / REQUIREMENTS
    if not path.is_file():
        return []
    return [
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
