"""The `mlkube` command (also `kubectl mlkube`, installed as kubectl-mlkube).

One module per command group; each is added to ``main`` below, the one place a new group goes
(``main.add_command(group)``). kubectl's flags and how errors end: mlkube.cli.base.
"""

from __future__ import annotations

import click

from mlkube import __version__
from mlkube.cli.base import Mlkube, cluster_options, output_option
from mlkube.cli.completion import completion
from mlkube.cli.experiments import experiments
from mlkube.cli.local import crds, project, serve, server
from mlkube.cli.models import models
from mlkube.cli.recipes import recipes
from mlkube.cli.runs import runs, submit
from mlkube.cli.serving import deploy, deployments, predict
from mlkube.cli.status import status
from mlkube.cli.sweeps import submit_sweep, sweeps
from mlkube.cli.ui import ui


@click.group(cls=Mlkube, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlkube", message="%(prog)s %(version)s")
@cluster_options
@output_option
def main() -> None:
    """The machine-learning lifecycle platform of MLflow, on Kubernetes."""


for command in (
    submit,
    runs,
    submit_sweep,
    sweeps,
    experiments,
    models,
    deploy,
    deployments,
    predict,
    status,
    ui,
    recipes,
    crds,
    server,
    serve,
    project,
    completion,
):
    main.add_command(command)

__all__ = ["main"]
