"""`mlkube completion bash|zsh|fish`: the shell's completion script, resource names included."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script; e.g. `source <(mlkube completion bash)` in ~/.bashrc."""
    root = ctx.find_root().command
    script = get_completion_class(shell)
    assert script is not None  # the Choice admits only shells click knows
    click.echo(script(root, {}, "mlkube", "_MLKUBE_COMPLETE").source())
