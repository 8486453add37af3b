"""`mlkube sweep -f FILE [PROJECT]` (submit a hyperparameter search) and
`mlkube sweeps list|get|best|suspend|resume|delete`, named as `mlkube run` and `mlkube runs` are.

`mlkube sweep -f sweep.yaml DIR --wait` shows the upload, then each trial as it is made and ends
and the best so far, and exits with the sweep's outcome: 0 Succeeded, 1 Failed, 3 Suspended
(124 when ``--timeout`` ran out first, as timeout(1) does).
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from mlkube.api.kinds import SWEEP
from mlkube.cli.base import cluster_options, exit_with, options, output_option
from mlkube.cli.names import complete
from mlkube.cli.output import dump, print_table, show
from mlkube.cli.runs import TIMED_OUT, nothing, say, upload_bar
from mlkube.cli.sweep_view import (
    assignments,
    best_text,
    number,
    print_summary,
    progress_reporter,
    trial_table,
)

OUTCOME = {"Succeeded": 0, "Failed": 1, "Suspended": 3}  # as `mlkube run`: 3 is Killed


@click.command("sweep")
@click.argument("project", required=False, type=click.Path(exists=True, file_okay=False))
@click.option(
    "-f",
    "--filename",
    "manifest",
    type=click.Path(dir_okay=False, allow_dash=True),
    required=True,
    help="the Sweep's YAML (- reads stdin); PROJECT, if given, becomes spec.template.project",
)
@click.option("--name", help="the Sweep's name (default: the file's, else generated)")
@click.option("--wait", is_flag=True, help="show trials as they go and wait for the sweep to end")
@click.option("--timeout", type=float, default=86400, show_default=True, help="seconds to wait")
@cluster_options
@output_option
def submit_sweep(
    *, project: str | None, manifest: str, name: str | None, wait: bool, timeout: float
) -> None:
    """Start a hyperparameter search: upload the MLflow project in PROJECT (unless the file
    names one) and create the Sweep that runs its trials as Runs.

    With --wait, the exit status is the sweep's outcome (0 Succeeded, 1 Failed, 3 Suspended)."""
    client = options().client()
    started = time.monotonic()
    with upload_bar() if project else nothing() as progress:
        given = click.get_text_stream("stdin").read() if manifest == "-" else Path(manifest)
        sweep = client.submit_sweep(given, project, name=name, progress=progress)
    sweep_name = str(sweep.metadata.name)
    ns = client.namespace
    structured = options().output in {"json", "yaml"}
    if project and sweep.spec.template.project is not None:
        say(f"  stored as {sweep.spec.template.project.uri}")
    if not structured:
        click.echo(f"sweep/{sweep_name} created in namespace {ns}")
    if not wait:
        if structured:
            show(SWEEP, [sweep], options().output, single=True)
        else:
            say(f"  its trials:  mlkube sweeps get {sweep_name} -n {ns}")
        return
    from mlkube.client.errors import WaitTimeout

    left = max(1.0, timeout - (time.monotonic() - started))
    try:
        done = client.wait_for_sweep(sweep_name, left, progress_reporter(client, say))
    except WaitTimeout as err:
        click.echo(f"error: {err}", err=True)
        exit_with(TIMED_OUT)
        return
    phase = str(done.status.phase)
    best = done.status.best
    said = f"{done.status.trials} trials"
    said += f", best {best_text(best, done.spec.objective.metric)}" if best else ", no best trial"
    if done.status.message:
        said += f"; {done.status.message}"
    colour = {"Succeeded": "green", "Suspended": "yellow"}.get(phase, "red")
    click.secho(f"sweep/{sweep_name}: {phase}: {said}", err=True, fg=colour)
    if structured:
        show(SWEEP, [done], options().output, single=True)
    exit_with(OUTCOME.get(phase, 1))


@click.group("sweeps")
def sweeps() -> None:
    """Sweeps: list, get, best, suspend, resume, delete."""


@sweeps.command("list")
@click.option("-l", "--selector", help="label selector, as kubectl's -l")
@cluster_options
@output_option
def list_sweeps(selector: str | None) -> None:
    """List the sweeps of the namespace: progress, running trials, best value, phase."""
    show(SWEEP, options().client().sweeps.list(selector), options().output)


@sweeps.command("get")
@click.argument("name", shell_complete=complete(SWEEP))
@cluster_options
@output_option
def get_sweep(name: str) -> None:
    """Show one sweep and its trials (-o yaml: the Sweep; its trial Runs are
    `mlkube runs list -l mlkube.io/sweep=NAME`)."""
    client = options().client()
    found = client.sweeps.get(name)
    output = options().output
    if output in {"json", "yaml"}:
        show(SWEEP, [found], output, single=True)
        return
    print_summary(found)
    trials = client.trials(found)
    if not trials:
        click.echo("\nNo trials yet.")
        return
    click.echo()
    print_table(trial_table(found, trials, output == "wide"))


@sweeps.command("best")
@click.argument("name", shell_complete=complete(SWEEP))
@cluster_options
@output_option
def best_trial(name: str) -> None:
    """Show the sweep's best trial: its Run, MLflow run id, value and parameters."""
    from mlkube.client.errors import NotFound

    client = options().client()
    found = client.sweeps.get(name)
    best = found.status.best
    metric = found.spec.objective.metric
    if best is None:
        raise NotFound(
            f"Sweep {name!r} in namespace {client.namespace} has no best trial yet: no trial "
            f"has finished with metric {metric}; see its trials with `mlkube sweeps get {name}`",
            kind=SWEEP.kind,
            name=name,
            namespace=client.namespace,
        )
    output = options().output
    if output in {"json", "yaml"}:
        click.echo(dump(best.to_wire(), output), nl=False)
        return
    header = ["TRIAL", "RUN", metric, "PARAMETERS", "RUN ID"]
    row = [str(best.trial), best.run, number(best.value), assignments(best.parameters)]
    print_table([header, [*row, best.run_id or ""]])


@sweeps.command("suspend")
@click.argument("name", shell_complete=complete(SWEEP))
@cluster_options
def suspend(name: str) -> None:
    """Pause a sweep: no new trials, its running ones stopped (they end Killed); `mlkube sweeps
    resume NAME` goes on."""
    done = options().client().suspend_sweep(name)
    _say_settled(name, done.status.phase, "suspended")


@sweeps.command("resume")
@click.argument("name", shell_complete=complete(SWEEP))
@cluster_options
def resume(name: str) -> None:
    """Go on with a suspended sweep: new trials up to maxRuns."""
    done = options().client().resume_sweep(name)
    _say_settled(name, done.status.phase, "resumed")


def _say_settled(name: str, phase: str | None, did: str) -> None:
    if phase in {"Succeeded", "Failed"}:
        click.echo(f"sweep/{name} has already ended ({phase})")
    else:
        click.echo(f"sweep/{name} {did}")


@sweeps.command("delete")
@click.argument("names", nargs=-1, required=True, shell_complete=complete(SWEEP))
@cluster_options
def delete(names: tuple[str, ...]) -> None:
    """Delete sweeps (their trial Runs and parent run go with them)."""
    client = options().client()
    for name in names:
        client.sweeps.delete(name)
        click.echo(f"sweep/{name} deleted")
