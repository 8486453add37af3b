"""`mlkube run` (submit a project) and `mlkube runs list|get|logs|cancel|delete`.

`mlkube run DIR --follow` shows the upload as a progress bar, then the Run's output as its pod
writes it, and exits with the Run's outcome: 0 Succeeded, 1 Failed, 3 Killed (124 when
``--timeout`` ran out first, as timeout(1) does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlkube.api.kinds import RUN
from mlkube.cli.base import cluster_options, exit_with, options, output_option
from mlkube.cli.names import complete
from mlkube.cli.output import show

if TYPE_CHECKING:
    from mlkube.client import Client

OUTCOME = {"Succeeded": 0, "Failed": 1, "Killed": 3}
TIMED_OUT = 124


def parameters(pairs: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: expected KEY=VALUE", param_hint="-P")
        values[key] = value
    return values


@contextmanager
def upload_bar() -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr for (bytes sent, total) reports."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn("uploading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
    ) as bar:
        task: list[Any] = []

        def report(sent: int, total: int) -> None:
            if not task:
                task.append(bar.add_task("upload", total=total))
            bar.update(task[0], completed=sent)

        yield report


def say(message: str) -> None:
    click.secho(message, err=True, dim=True)


def waiting_reporter() -> Callable[[str], None]:
    """Report why a followed log waits, once per new reason."""
    last: list[str] = [""]

    def report(message: str) -> None:
        if message != last[0]:
            last[0] = message
            say(f"... {message}")

    return report


def finish(client: Client, name: str, timeout: float) -> int:
    """Wait for the Run to end; say how it ended; its exit status."""
    from mlkube.client.errors import WaitTimeout

    try:
        run = client.wait_for_run(name, timeout=timeout)
    except WaitTimeout as err:
        click.echo(f"error: {err}", err=True)
        return TIMED_OUT
    phase = str(run.status.phase)
    lines = (run.status.message or "").strip().splitlines()
    colour = "green" if phase == "Succeeded" else "red"
    click.secho(f"run/{name}: {phase}" + (f": {lines[0]}" if lines else ""), err=True, fg=colour)
    for line in lines[1:]:  # a failed run's message is the tail of its error
        click.secho(f"  {line}", err=True, fg=colour)
    return OUTCOME.get(phase, 1)


@click.command("run")
@click.argument("project", required=False, type=click.Path(exists=True, file_okay=False))
@click.option(
    "--uri", help="a project archive instead of a directory (mlflow-artifacts:/ or s3://)"
)
@click.option("--git", help="a git URL instead of a directory")
@click.option("--revision", default="HEAD", show_default=True, help="git revision (with --git)")
@click.option("--path", "image_path", help="a project directory inside the image")
@click.option("-e", "--entry-point", default="main", show_default=True)
@click.option("-P", "--param", "params", multiple=True, metavar="KEY=VALUE", help="a parameter")
@click.option("--experiment", default="default", show_default=True, help="Experiment name")
@click.option("--name", help="the Run's name (default: generated from the project's)")
@click.option("--image", help="container image (default: the operator's runtime image)")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="pods that run it together, as ranks 0..N-1 (spec.workers; docs/distributed.md)",
)
@click.option("-f", "--follow", is_flag=True, help="stream the run's output until it ends")
@click.option("--wait", is_flag=True, help="wait for the run to end")
@click.option("--timeout", type=float, default=3600, show_default=True, help="seconds to wait")
@cluster_options
def submit(
    *,
    project: str | None,
    uri: str | None,
    git: str | None,
    revision: str,
    image_path: str | None,
    entry_point: str,
    params: tuple[str, ...],
    experiment: str,
    name: str | None,
    image: str | None,
    workers: int,
    follow: bool,
    wait: bool,
    timeout: float,
) -> None:
    """Upload a local MLflow project (or name a remote one) and run it on the cluster as a Run.

    With --follow, the Run's output is streamed and the exit status is its outcome
    (0 Succeeded, 1 Failed, 3 Killed)."""
    from mlkube.client.submit import Source

    client = options().client()
    source = Source(
        directory=Path(project) if project else None,
        uri=uri,
        git=git,
        revision=revision,
        image_path=image_path,
    )
    source.check()
    started = time.monotonic()
    with upload_bar() if project else nothing() as progress:
        run = client.submit_project(
            None,
            parameters(params),
            experiment,
            entry_point=entry_point,
            name=name,
            image=image,
            source=source,
            progress=progress,
            workers=workers,
        )
    run_name = run.metadata.name
    ns = client.namespace
    if project and run.spec.project is not None:
        say(f"  stored as {run.spec.project.uri}")
    click.echo(f"run/{run_name} created in namespace {ns}")
    if not (follow or wait):
        say(f"  follow it:  mlkube runs logs {run_name} -n {ns} -f")
        say(f"  its state:  mlkube runs get {run_name} -n {ns}")
        return
    if follow:
        for line in client.logs(run_name, follow=True, timeout=timeout, waiting=waiting_reporter()):
            click.echo(line)
    exit_with(finish(client, run_name, max(1.0, timeout - (time.monotonic() - started))))


@contextmanager
def nothing() -> Iterator[None]:
    yield None


@click.group("runs")
def runs() -> None:
    """Runs: list, get, logs, cancel, delete."""


@runs.command("list")
@click.option("-l", "--selector", help="label selector, as kubectl's -l")
@click.option("--experiment", help="only the runs of this experiment")
@cluster_options
@output_option
def list_runs(selector: str | None, experiment: str | None) -> None:
    """List the runs of the namespace."""
    found = options().client().runs.list(selector)
    if experiment:
        found = [r for r in found if r.spec.experiment == experiment]
    show(RUN, found, options().output)


@runs.command("get")
@click.argument("name", shell_complete=complete(RUN))
@cluster_options
@output_option
def get_run(name: str) -> None:
    """Show one run (-o yaml: everything, with its params and metrics)."""
    show(RUN, [options().client().runs.get(name)], options().output, single=True)


@runs.command("logs")
@click.argument("name", shell_complete=complete(RUN))
@click.option("-f", "--follow", is_flag=True, help="stream until the run ends")
@click.option("-c", "--container", default="main", show_default=True, help="main or prepare")
@click.option("--timeout", type=float, default=3600, show_default=True, help="seconds to follow")
@cluster_options
def run_logs(name: str, follow: bool, container: str, timeout: float) -> None:
    """Print what the run's pods wrote (the project's output)."""
    client = options().client()
    waiting = waiting_reporter() if follow else None
    for line in client.logs(
        name, follow=follow, container=container, timeout=timeout, waiting=waiting
    ):
        click.echo(line)


@runs.command("cancel")
@click.argument("names", nargs=-1, required=True, shell_complete=complete(RUN))
@click.option("--wait", is_flag=True, help="wait until each run is Killed (or ended)")
@click.option("--timeout", type=float, default=300, show_default=True)
@cluster_options
def cancel(names: tuple[str, ...], wait: bool, timeout: float) -> None:
    """Kill runs (spec.suspend: true): their pods stop and they end in phase Killed."""
    client = options().client()
    for name in names:
        client.cancel(name)
        click.echo(f"run/{name} cancelled")
    if wait:
        for name in names:
            run = client.wait_for_run(name, timeout=timeout)
            click.echo(f"run/{name}: {run.status.phase}")


@runs.command("delete")
@click.argument("names", nargs=-1, required=True, shell_complete=complete(RUN))
@cluster_options
def delete(names: tuple[str, ...]) -> None:
    """Delete runs (their Jobs and pods go with them)."""
    client = options().client()
    for name in names:
        client.runs.delete(name)
        click.echo(f"run/{name} deleted")
