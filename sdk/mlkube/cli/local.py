"""Commands that run here instead of asking a cluster: `crds`, `server`, `serve`, `project`.

`serve` and `project run|prepare` keep their argparse parsers (mlkube.serving.command,
mlkube.projects.prepare): those run inside pods (`mlkube project prepare` is a Run's init
container, `mlkube serve` a model pod) and share their options with the runner zipapp, which has
only the standard library. Click hands them their arguments untouched.
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import click

from mlkube.cli.base import exit_with

SERVER_COMMAND = "mlkube-server"
# Arguments passed through as they are, --help included.
RAW = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}

Handler = Callable[[argparse.Namespace, Mapping[str, str]], int]


def through_argparse(
    parser: argparse.ArgumentParser, handler: Handler, args: tuple[str, ...]
) -> int:
    """Parse ``args`` with ``parser`` and run ``handler``; argparse's own status on --help and
    usage errors."""
    try:
        parsed = parser.parse_args(list(args))
    except SystemExit as done:
        return int(done.code or 0)
    return handler(parsed, os.environ)


@click.command("crds")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default="crds")
def crds(directory: Path) -> None:
    """Write the CustomResourceDefinitions to a directory."""
    from mlkube.api.crd import write_all

    for path in write_all(directory):
        click.echo(f"wrote {path}")


@click.command("server", context_settings=RAW, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def server(args: tuple[str, ...]) -> None:
    """Serve MLflow's tracking REST API on the cluster (runs mlkube-server)."""
    # The server lives in the operator's package, which the SDK never imports (not even by
    # name: tests/unit/test_layers.py): its console script takes this process's place.
    executable = shutil.which(SERVER_COMMAND)
    if executable is None:
        click.echo(
            f"mlkube server: {SERVER_COMMAND} is not on PATH; install the server extra "
            "(pip install 'mlkube[server]') and run it again",
            err=True,
        )
        exit_with(2)
        return
    os.execv(executable, [SERVER_COMMAND, *args])


@click.command("serve", context_settings=RAW, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def serve(args: tuple[str, ...]) -> None:
    """Serve a model over HTTP (MLflow's scoring protocol); --help for the options."""
    from mlkube.serving.command import add_arguments

    parser = add_arguments(
        argparse.ArgumentParser(
            prog="mlkube serve",
            description="Score a model over HTTP: /invocations, /ping, /health, /version, "
            "/metrics.",
        )
    )

    def run(parsed: argparse.Namespace, env: Mapping[str, str]) -> int:
        try:
            from mlkube.serving.command import run as serve_model
        except ImportError as err:
            click.echo(f"mlkube serve needs the serve extra (pip install 'mlkube[serve]'): {err}")
            return 2
        return serve_model(parsed, env)

    exit_with(through_argparse(parser, run, args))


@click.group("project")
def project() -> None:
    """MLflow projects, run here or prepared for a Run's pod."""


@project.command("run", context_settings=RAW, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def project_run(args: tuple[str, ...]) -> None:
    """Fetch a project and run its entry point here; --help for the options."""
    from mlkube.projects.prepare import build_run_parser, run_here

    exit_with(through_argparse(build_run_parser(), run_here, args))


@project.command("prepare", context_settings=RAW, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def project_prepare(args: tuple[str, ...]) -> None:
    """Write the runner and the project into a directory (a Run's init container)."""
    from mlkube.projects.prepare import build_parser, prepare

    exit_with(through_argparse(build_parser(), prepare, args))
