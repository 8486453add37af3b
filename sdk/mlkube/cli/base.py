"""What every `mlkube` command shares: the root group, kubectl's flags, and how errors end.

kubectl's flags (``-n``, ``--context``, ``--kubeconfig``, ``-o``) are accepted on the root group
and on each command, before or after its arguments, as kubectl accepts them; the innermost wins.
The cluster is reached only when a command needs it. An ``MlkubeError`` ends the command with its
one-line message on stderr and exit status 1; a command returns its own status otherwise.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mlkube.client.errors import MlkubeError

if TYPE_CHECKING:
    from mlkube.client import Client

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "wide", "json", "yaml")
# Exit statuses besides 0 and 1: click's usage errors are 2.
INTERRUPTED = 130


@dataclass
class Options:
    """kubectl's choices for this invocation; ``client()`` connects on first use."""

    namespace: str | None = None
    context: str | None = None
    kubeconfig: str | None = None
    output: str = "table"
    made: list[Client] = field(default_factory=list)

    def client(self) -> Client:
        """The SDK client for these options, made on first use (importing the Kubernetes
        library costs start-up time that commands which never reach a cluster, such as
        `serve`, should not pay)."""
        if not self.made:
            from mlkube.client import Client

            self.made.append(
                Client(self.namespace, context=self.context, kubeconfig=self.kubeconfig)
            )
        return self.made[0]


def options() -> Options:
    return click.get_current_context().ensure_object(Options)


def _setter(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def store(ctx: click.Context, _: click.Parameter, value: Any) -> None:
        if value is not None:
            setattr(ctx.ensure_object(Options), name, value)

    return store


def cluster_options(command: F) -> F:
    """-n, --context and --kubeconfig, as kubectl has them."""
    for option in reversed(
        [
            click.option(
                "-n",
                "--namespace",
                help="namespace (default: the kubeconfig context's, else default)",
                expose_value=False,
                callback=_setter("namespace"),
            ),
            click.option(
                "--context",
                help="kubeconfig context to use (default: the current one)",
                expose_value=False,
                callback=_setter("context"),
            ),
            click.option(
                "--kubeconfig",
                help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)",
                expose_value=False,
                callback=_setter("kubeconfig"),
            ),
        ]
    ):
        command = option(command)
    return command


def output_option(command: F) -> F:
    """-o table|wide|json|yaml."""
    return click.option(
        "-o",
        "--output",
        type=click.Choice(FORMATS),
        help="output format (default: table)",
        expose_value=False,
        callback=_setter("output"),
    )(command)


class Mlkube(click.Group):
    """The root command. Calling it returns the exit status instead of exiting, so that tests
    and ``sys.exit(main())`` alike get it; MlkubeError becomes ``error: <message>``."""

    def main(  # type: ignore[override]  # returns the status rather than exiting
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> int:
        del standalone_mode  # always handled here
        if prog_name is None:
            invoked = sys.argv[0].rsplit("/", 1)[-1]
            prog_name = "kubectl mlkube" if invoked == "kubectl-mlkube" else "mlkube"
        try:
            result = super().main(
                args=list(sys.argv[1:] if args is None else args),
                prog_name=prog_name,
                complete_var=complete_var or "_MLKUBE_COMPLETE",
                standalone_mode=False,
                **extra,
            )
        except click.exceptions.Exit as done:
            return int(done.exit_code)
        except click.ClickException as err:
            err.show()
            return int(err.exit_code)
        except click.Abort:
            click.echo("aborted", err=True)
            return 1
        except MlkubeError as err:
            click.echo(f"error: {err}", err=True)
            return 1
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            return INTERRUPTED
        return int(result or 0)


def exit_with(status: int) -> None:
    """End the command with ``status`` (0 returns)."""
    if status:
        raise click.exceptions.Exit(status)
