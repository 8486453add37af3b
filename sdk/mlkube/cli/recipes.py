"""`mlkube recipes init|run|inspect|clean` (the logic: mlkube.recipes.commands).

The recipes need the ``recipes`` extra (mlflow, scikit-learn, pandas): it is imported when a
command runs, so the rest of the CLI works without it. The namespace (the MLflow workspace) is
``-n``, else the profile's, else MLKUBE_NAMESPACE.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import click

from mlkube.cli.base import cluster_options, exit_with, options

DIRECTORY = click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
PROFILE = click.option("--profile", default="local", help="profiles/<P>.yaml (default: local)")
STEP = click.option("--step", help="ingest, split, transform, train, evaluate, register, predict")


def _commands() -> ModuleType:
    try:
        from mlkube.recipes import commands
    except ImportError as err:
        click.echo(
            f"mlkube recipes needs the recipes extra (pip install 'mlkube[recipes]'): {err}",
            err=True,
        )
        exit_with(2)
        raise  # not reached: exit_with(2) raises
    return commands


@click.group("recipes")
def recipes() -> None:
    """Train, evaluate and register a model with a regression or classification recipe."""


@recipes.command("init")
@click.argument("kind", type=click.Choice(["regression", "classification"]))
@DIRECTORY
def init(kind: str, directory: Path) -> None:
    """Write a runnable recipe into a new directory."""
    exit_with(_commands().init(kind, directory))


@recipes.command("run")
@PROFILE
@STEP
@cluster_options
@DIRECTORY
def run(profile: str, step: str | None, directory: Path) -> None:
    """Run the steps through --step (default: register); cached steps are skipped."""
    exit_with(_commands().run(directory, step, profile, options().namespace, os.environ))


@recipes.command("inspect")
@PROFILE
@STEP
@cluster_options
@DIRECTORY
def inspect(profile: str, step: str | None, directory: Path) -> None:
    """What the latest run did per step; --step fetches that step's card."""
    exit_with(_commands().inspect(directory, step, profile, options().namespace, os.environ))


@recipes.command("clean")
@PROFILE
@cluster_options
@DIRECTORY
def clean(profile: str, directory: Path) -> None:
    """Forget the cached steps (the runs stay as history)."""
    exit_with(_commands().clean(directory, profile, options().namespace, os.environ))
