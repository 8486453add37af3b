"""`mlkube deploy`, `mlkube deployments list|get|delete` and `mlkube predict`."""

from __future__ import annotations

import json
import sys
from typing import BinaryIO

import click

from mlkube.api.kinds import MODEL_DEPLOYMENT
from mlkube.cli.base import cluster_options, options, output_option
from mlkube.cli.names import complete
from mlkube.cli.output import show

# Largest request `mlkube predict` reads (the scoring server's own default limit).
MAX_REQUEST = 64 * 1024 * 1024


@click.command("deploy")
@click.argument("model")
@click.option("--name", required=True, help="the ModelDeployment (and its Service)")
@click.option("--canary", help="MODEL_REFERENCE:PERCENT answering that share, e.g. m@challenger:20")
@click.option("--replicas", type=int, help="serving pods (default 1)")
@click.option("--wait", is_flag=True, help="wait until it is Ready")
@click.option("--timeout", type=float, default=300, show_default=True)
@cluster_options
@output_option
def deploy(
    *, model: str, name: str, canary: str | None, replicas: int | None, wait: bool, timeout: float
) -> None:
    """Serve a registered model: MODEL@ALIAS (followed as it moves), MODEL/VERSION or
    MODEL/STAGE. Changes the deployment if it exists."""
    from mlkube.client.refs import parse_canary, parse_model_ref

    ref = parse_model_ref(model)  # a wrong reference is refused before connecting
    second = parse_canary(canary) if canary else None
    made = (
        options().client().deploy(ref, name, second, replicas=replicas, wait=wait, timeout=timeout)
    )
    if options().output in {"json", "yaml"}:
        show(MODEL_DEPLOYMENT, [made], options().output, single=True)
        return
    state = f": {made.status.phase}, version {made.status.served_version}" if wait else ""
    click.echo(f"modeldeployment/{name} serves {model}{state}")


@click.group("deployments")
def deployments() -> None:
    """Model deployments: list, get, delete."""


@deployments.command("list")
@click.option("-l", "--selector", help="label selector, as kubectl's -l")
@cluster_options
@output_option
def list_deployments(selector: str | None) -> None:
    """List the model deployments of the namespace."""
    show(MODEL_DEPLOYMENT, options().client().deployments.list(selector), options().output)


@deployments.command("get")
@click.argument("name", shell_complete=complete(MODEL_DEPLOYMENT))
@cluster_options
@output_option
def get_deployment(name: str) -> None:
    """Show one model deployment."""
    found = options().client().deployments.get(name)
    show(MODEL_DEPLOYMENT, [found], options().output, single=True)


@deployments.command("delete")
@click.argument("names", nargs=-1, required=True, shell_complete=complete(MODEL_DEPLOYMENT))
@cluster_options
def delete(names: tuple[str, ...]) -> None:
    """Stop serving: delete model deployments (their pods and Service go with them)."""
    client = options().client()
    for name in names:
        client.deployments.delete(name)
        click.echo(f"modeldeployment/{name} deleted")


@click.command("predict")
@click.argument("deployment", shell_complete=complete(MODEL_DEPLOYMENT))
@click.option(
    "--json",
    "source",
    type=click.File("rb"),
    required=True,
    help="the scoring request (MLflow's format: dataframe_split, inputs, ...), a file or -",
)
@click.option("--timeout", type=float, default=60, show_default=True)
@cluster_options
def predict(deployment: str, source: BinaryIO, timeout: float) -> None:
    """Send a scoring request to a deployment (through the API server) and print the answer."""
    body = source.read(MAX_REQUEST + 1)
    if len(body) > MAX_REQUEST:
        raise click.BadParameter(f"larger than {MAX_REQUEST} bytes", param_hint="--json")
    try:
        json.loads(body)
    except ValueError as err:
        raise click.BadParameter(f"not JSON: {err}", param_hint="--json") from None
    answer = options().client().predict(deployment, body, timeout=timeout)
    click.echo(json.dumps(answer, indent=2 if sys.stdout.isatty() else None))
