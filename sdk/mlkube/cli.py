"""The `mlkube` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mlkube import __version__


def _crds(args: argparse.Namespace) -> int:
    from mlkube.api.crd import write_all

    for path in write_all(args.directory):
        print(f"wrote {path}")
    return 0


SERVER_COMMAND = "mlkube-server"


def _server(argv: Sequence[str]) -> int:
    """Hand `mlkube server ...` to the tracking server's own command.

    The server lives in the operator's package, which the SDK never imports (not even by name:
    tests/unit/test_layers.py): run its console script in place of this process instead.
    """
    import os
    import shutil

    executable = shutil.which(SERVER_COMMAND)
    if executable is None:
        print(
            f"mlkube server: {SERVER_COMMAND} is not on PATH; install the server extra "
            "(pip install 'mlkube[server]') and run it again",
            file=sys.stderr,
        )
        return 2
    os.execv(executable, [SERVER_COMMAND, *argv])


def _project_run(args: argparse.Namespace) -> int:
    import os

    from mlkube.projects.prepare import run_here

    return run_here(args, os.environ)


def _project_prepare(args: argparse.Namespace) -> int:
    import os

    from mlkube.projects.prepare import prepare

    return prepare(args, os.environ)


def _submit(args: argparse.Namespace) -> int:
    import os

    from mlkube.projects.submit import submit

    return submit(args, os.environ)


def _serve(args: argparse.Namespace) -> int:
    import os

    try:
        from mlkube.serving.command import run
    except ImportError as err:
        print(f"mlkube serve needs the serve extra (pip install 'mlkube[serve]'): {err}")
        return 2
    return run(args, os.environ)


def _ui(args: argparse.Namespace) -> int:
    import os

    from mlkube.ui.command import run

    return run(args, os.environ)


def _recipes(args: argparse.Namespace) -> int:
    import os

    try:
        from mlkube.recipes import commands
    except ImportError as err:
        print(f"mlkube recipes needs the recipes extra (pip install 'mlkube[recipes]'): {err}")
        return 2
    if args.recipes_command == "init":
        return commands.init(args.kind, args.directory)
    where = (args.profile, args.namespace, os.environ)
    match args.recipes_command:
        case "run":
            return commands.run(args.directory, args.step, *where)
        case "inspect":
            return commands.inspect(args.directory, args.step, *where)
        case _:
            return commands.clean(args.directory, *where)


def _recipes_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`mlkube recipes init|run|inspect|clean` (logic: mlkube.recipes.commands)."""
    recipes = commands.add_parser("recipes", help="train, evaluate and register with a recipe")
    actions = recipes.add_subparsers(dest="recipes_command", metavar="COMMAND", required=True)
    init = actions.add_parser("init", help="write a runnable recipe into a new directory")
    init.add_argument("kind", choices=("regression", "classification"))
    for name, help_text in (
        ("run", "run the steps (through --step; default: register)"),
        ("inspect", "what the latest run did per step; --step fetches that step's card"),
        ("clean", "forget the cached steps"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("--profile", default="local", help="profiles/<P>.yaml (default: local)")
        action.add_argument("-n", "--namespace", help="default: the profile's, MLKUBE_NAMESPACE")
        if name != "clean":
            action.add_argument("--step", help="ingest, split, transform, train, evaluate, ...")
    for action in actions.choices.values():
        action.add_argument("directory", type=Path)
        action.set_defaults(func=_recipes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlkube",
        description="The machine-learning lifecycle platform of MLflow, on Kubernetes.",
    )
    parser.add_argument("--version", action="version", version=f"mlkube {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    crds = commands.add_parser("crds", help="write the CustomResourceDefinitions to a directory")
    crds.add_argument("directory", nargs="?", default=Path("crds"), type=Path)
    crds.set_defaults(func=_crds)
    # Listed for --help only: main() hands `mlkube server ...` to the server's own parser.
    commands.add_parser("server", help="serve MLflow's tracking REST API on the cluster")

    from mlkube.projects.prepare import build_parser as prepare_parser
    from mlkube.projects.prepare import build_run_parser

    project = commands.add_parser("project", help="MLflow projects")
    project_commands = project.add_subparsers(dest="project_command", metavar="COMMAND")
    run = project_commands.add_parser(
        "run",
        help="fetch a project and run its entry point here",
        description="Fetch a project, check its parameters and run its entry point.",
    )
    build_run_parser(run).set_defaults(func=_project_run)
    prepare = project_commands.add_parser(
        "prepare",
        help="write the runner and the project into a directory (the init container of a Run)",
        description="Write runner.pyz (which runs the project with any python3 >= 3.9) into "
        "--into and, for --uri and --git, fetch the project into <into>/project.",
    )
    prepare_parser(prepare).set_defaults(func=_project_prepare)

    from mlkube.projects.submit import add_arguments

    submit = commands.add_parser(
        "run",
        help="upload a project and run it on the cluster as a Run",
        description="Upload a local MLflow project (or name a remote one) and create a Run.",
    )
    add_arguments(submit)
    submit.set_defaults(func=_submit)

    from mlkube.serving.command import add_arguments as serve_arguments

    serve = commands.add_parser(
        "serve",
        help="serve a model over HTTP (MLflow's scoring protocol)",
        description="Score a model over HTTP: /invocations, /ping, /health, /version, /metrics.",
    )
    serve_arguments(serve).set_defaults(func=_serve)

    from mlkube.ui.command import add_arguments as ui_arguments

    ui = commands.add_parser(
        "ui",
        help="open MLflow's web UI of the tracking server, signed in as your kubeconfig's user",
        description="Serve MLflow's UI on 127.0.0.1 through a local forwarder that adds your "
        "bearer token to the tracking server's API calls, and open it in the browser.",
    )
    ui_arguments(ui).set_defaults(func=_ui)

    _recipes_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["server"]:
        return _server(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
