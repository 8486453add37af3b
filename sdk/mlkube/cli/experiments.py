"""`mlkube experiments list|get`."""

from __future__ import annotations

import click

from mlkube.api.kinds import EXPERIMENT
from mlkube.cli.base import cluster_options, options, output_option
from mlkube.cli.names import complete
from mlkube.cli.output import show


@click.group("experiments")
def experiments() -> None:
    """Experiments: list, get."""


@experiments.command("list")
@click.option("-l", "--selector", help="label selector, as kubectl's -l")
@cluster_options
@output_option
def list_experiments(selector: str | None) -> None:
    """List the experiments of the namespace, with their run counts."""
    show(EXPERIMENT, options().client().experiments.list(selector), options().output)


@experiments.command("get")
@click.argument("name", shell_complete=complete(EXPERIMENT))
@cluster_options
@output_option
def get_experiment(name: str) -> None:
    """Show one experiment."""
    found = options().client().experiments.get(name)
    show(EXPERIMENT, [found], options().output, single=True)
