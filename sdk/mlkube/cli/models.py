"""`mlkube models list|get|versions|register|alias|stage`: the model registry."""

from __future__ import annotations

import click

from mlkube.api import Stage
from mlkube.api.kinds import MODEL_VERSION, REGISTERED_MODEL
from mlkube.cli.base import cluster_options, options, output_option
from mlkube.cli.names import complete
from mlkube.cli.output import Extra, Obj, show


def _aliases(data: Obj) -> str:
    aliases = (data.get("spec") or {}).get("aliases") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(aliases.items()))


ALIASES: Extra = ("ALIASES", _aliases)


@click.group("models")
def models() -> None:
    """Registered models: list, get, versions, register, alias, stage."""


@models.command("list")
@click.option("-l", "--selector", help="label selector, as kubectl's -l")
@cluster_options
@output_option
def list_models(selector: str | None) -> None:
    """List the registered models of the namespace, with their aliases."""
    show(
        REGISTERED_MODEL,
        options().client().models.list(selector),
        options().output,
        extra=[ALIASES],
    )


@models.command("get")
@click.argument("name", shell_complete=complete(REGISTERED_MODEL))
@cluster_options
@output_option
def get_model(name: str) -> None:
    """Show one registered model."""
    found = options().client().models.get(name)
    show(REGISTERED_MODEL, [found], options().output, single=True, extra=[ALIASES])


@models.command("versions")
@click.argument("name", shell_complete=complete(REGISTERED_MODEL))
@cluster_options
@output_option
def versions(name: str) -> None:
    """List the versions of a registered model."""
    show(MODEL_VERSION, options().client().model_versions(name), options().output)


@models.command("register")
@click.argument("source")
@click.option("--name", "model", required=True, help="the registered model (made if missing)")
@click.option("--alias", help="point this alias at the new version once it is Ready")
@click.option("--path", default="model", show_default=True, help="the model's path in the run")
@click.option("--wait/--no-wait", default=True, show_default=True, help="wait until Ready")
@click.option("--timeout", type=float, default=300, show_default=True)
@cluster_options
@output_option
def register(
    *, source: str, model: str, alias: str | None, path: str, wait: bool, timeout: float
) -> None:
    """Register a model as a new version of --name.

    SOURCE is a Run's name, an MLflow run id, runs:/<runId>/<path>, models:/m-<id> or
    s3://bucket/key."""
    version = (
        options().client().register(source, model, alias, path=path, wait=wait, timeout=timeout)
    )
    if options().output in {"json", "yaml"}:
        show(MODEL_VERSION, [version], options().output, single=True)
        return
    number = version.status.version
    said = f"version {number}" if number else f"{version.metadata.name} (registering)"
    click.echo(f"{model}: {said}" + (f", alias {alias}" if alias and number else ""))


@models.command("alias")
@click.argument("model", shell_complete=complete(REGISTERED_MODEL))
@click.argument("alias")
@click.argument("version", type=int, required=False)
@click.option("--delete", is_flag=True, help="remove the alias instead")
@cluster_options
def alias(model: str, alias: str, version: int | None, delete: bool) -> None:
    """Point ALIAS of MODEL at VERSION (deployments that follow it roll out), or --delete it."""
    if (version is None) != delete:
        raise click.UsageError("give a VERSION, or --delete to remove the alias")
    options().client().set_alias(model, alias, None if delete else version)
    click.echo(f"{model}@{alias} " + ("deleted" if delete else f"-> version {version}"))


@models.command("stage")
@click.argument("model", shell_complete=complete(REGISTERED_MODEL))
@click.argument("version", type=int)
@click.argument("stage", type=click.Choice([s.value for s in Stage], case_sensitive=False))
@cluster_options
def stage(model: str, version: int, stage: str) -> None:
    """Move a version of MODEL to STAGE (None, Staging, Production, Archived)."""
    done = options().client().set_stage(model, version, stage)
    click.echo(f"{model}/{version}: {done.spec.stage}")
