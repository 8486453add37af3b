"""`mlkube ui`: MLflow's web UI of the tracking server, signed in as the kubeconfig's user.

The forwarder's options keep their argparse parser (mlkube.ui.command), which the command's
tests drive directly; click hands them their arguments untouched, as `serve`'s.
"""

from __future__ import annotations

import argparse

import click

from mlkube.cli.base import exit_with
from mlkube.cli.local import RAW, through_argparse


@click.command("ui", context_settings=RAW, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def ui(args: tuple[str, ...]) -> None:
    """Open MLflow's web UI signed in as your kubeconfig's user; --help for the options."""
    from mlkube.ui.command import add_arguments, run

    parser = argparse.ArgumentParser(
        prog="mlkube ui",
        description="Serve MLflow's UI on 127.0.0.1 through a local forwarder that adds your "
        "bearer token to the tracking server's API calls, and open it in the browser.",
    )
    add_arguments(parser)
    exit_with(through_argparse(parser, run, args))
