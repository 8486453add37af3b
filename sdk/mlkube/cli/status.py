"""`mlkube status`: what is installed, whether it works, and the fix for what does not."""

from __future__ import annotations

import os
from dataclasses import asdict

import click

from mlkube import __version__
from mlkube.cli.base import cluster_options, exit_with, options, output_option
from mlkube.cli.output import dump

MARKS = {True: ("ok", "green"), False: ("FAIL", "red"), None: ("?", "yellow")}


@click.command("status")
@cluster_options
@output_option
def status() -> None:
    """Check the cluster, mlkube's CRDs, operator, tracking server and object store.

    Exits 1 when something is broken; '?' marks what could not be checked."""
    from mlkube.client import health

    client = options().client()
    checks = health.report(client, os.environ)
    if options().output in {"json", "yaml"}:
        click.echo(dump([asdict(c) for c in checks], options().output), nl=False)
    else:
        click.echo(f"mlkube {__version__}, namespace {client.namespace}")
        width = max(len(c.name) for c in checks)
        for check in checks:
            mark, colour = MARKS[check.ok]
            click.echo(
                f"{check.name:<{width}}  "
                + click.style(f"{mark:<4}", fg=colour)
                + f"  {check.detail}"
            )
            if check.fix and check.ok is not True:
                click.echo(f"{'':<{width}}        fix: {check.fix}")
    exit_with(1 if any(c.ok is False for c in checks) else 0)
