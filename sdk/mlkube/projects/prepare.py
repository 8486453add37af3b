"""`mlkube project prepare`: the init container of a Run's Job.

A Run's main container is the user's own image, which needs nothing of mlkube. Like Tekton and Argo
Workflows, which deliver their entrypoint binaries into users' step containers through a shared
volume, the Job's init container (the mlkube image) writes into the pod's ``/mlkube`` emptyDir:

- ``runner.pyz``: the runner as a zipapp (``mlkube.projects.bundle``), which the main container
  starts with its own ``python3``;
- ``python/``: MLflow's request-auth plugin "mlkube" (mlkube.projects.auth_plugin), through which
  the Run's mlflow client sends the pod's token;
- ``project/``: the project's files, for an archive or a git repository (and git). A project given
  by ``--path`` is already in the Run's image: only the runner and the plugin are written.

An archive that ``mlkube run`` uploaded, ``mlflow-artifacts:/projects/<sha256>.tar.gz``, comes
through the tracking server's artifact proxy with the pod's token (``MLKUBE_TOKEN_FILE``) in the
Run's workspace (``MLFLOW_WORKSPACE``), and must hash to its name. The pod holds no object-store
credential (issue 13): an ``s3://`` archive is fetched only with the ``MLKUBE_S3_ENDPOINT``,
``MLKUBE_S3_ACCESS_KEY`` and ``MLKUBE_S3_SECRET_KEY`` the user put in the Run's own spec.env.

``mlkube project run`` does both steps in one process, in a temporary directory: the same
project, fetched and run the same way, on a laptop.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from mlkube import layout, proxy
from mlkube.objects import ObjectNotFound
from mlkube.projects import runner
from mlkube.projects.archive import check_content, unpack
from mlkube.projects.auth_plugin import write_auth_plugin
from mlkube.projects.bundle import write_runner
from mlkube.projects.runner import RunnerError, write_termination_message
from mlkube.storage import S3Location, S3Settings, StorageError, download

RUNNER = "runner.pyz"
PROJECT = "project"
AUTH_PLUGIN = "python"


def add_source_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Where the project comes from: exactly one of --uri, --git, --path."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--uri",
        help="a project archive: mlflow-artifacts:/projects/<sha256>.tar.gz (through the "
        "tracking server) or s3://bucket/key (with MLKUBE_S3_* credentials)",
    )
    source.add_argument("--git", help="git URL of the project's repository")
    source.add_argument("--path", help="directory of the project inside the Run's image")
    parser.add_argument("--revision", default="HEAD", help="git revision (with --git)")
    parser.add_argument("--subdirectory", default="", help="project directory inside the repo")
    return parser


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(prog="mlkube project prepare")
    parser.add_argument(
        "--into", required=True, type=Path, help="the directory shared with the main container"
    )
    return add_source_arguments(parser)


def fetch_project(args: argparse.Namespace, target: Path, env: Mapping[str, str]) -> Path:
    """Materialise the project's files in ``target`` (an s3:// archive or a git repository);
    return the project's directory. A --path project is left where it is."""
    if args.path:
        return Path(args.path)
    if target.exists():
        shutil.rmtree(target)  # a retried fetch starts clean
    if args.uri:
        archive = fetch_archive(args.uri, target.parent / f"{target.name}.tar.gz", env)
        unpack(archive, target)
        archive.unlink()
        directory = target
    else:
        clone = ["git", "clone", "--quiet", "--no-checkout", args.git, str(target)]
        runner.checked(clone, "git clone")
        runner.checked(
            ["git", "-C", str(target), "checkout", "--quiet", args.revision], "git checkout"
        )
        directory = target / args.subdirectory if args.subdirectory else target
        if not directory.is_dir():
            raise RunnerError(
                f"the repository has no directory {args.subdirectory!r} at revision "
                f"{args.revision!r}"
            )
    share(target)
    return directory


def fetch_archive(uri: str, target: Path, env: Mapping[str, str]) -> Path:
    """Download the archive ``uri`` to ``target``: through the tracking server for an
    ``mlflow-artifacts:/`` URI (checked against its sha256 name), else from S3."""
    if uri.startswith(layout.ARTIFACTS_ROOT):
        try:
            path = layout.parse_artifact_path(proxy.artifact_path(uri))
        except layout.LayoutError:
            path = None
        if path is None or path.owner is not layout.Owner.PROJECT:
            raise StorageError(f"{uri}: expected {layout.ARTIFACTS_ROOT}projects/<sha256>.tar.gz")
        proxy.download_file(env, layout.project_archive_path(path.owner_id), target)
        check_content(target, path.owner_id, uri)
        return target
    try:
        return download(S3Settings.from_env(env).objects(), S3Location.parse(uri), target)
    except ObjectNotFound:
        raise StorageError(
            f"no project archive at {uri}; upload it again (`mlkube run PROJECT`)"
        ) from None


def share(tree: Path) -> None:
    """Let any user read and write the fetched files.

    The main container may run as another uid than this one (uid 10001), and project code often
    writes next to itself; the emptyDir is private to the pod.
    """
    for current, _dirs, files in os.walk(tree):
        here = Path(current)
        here.chmod(0o777)
        for name in files:
            path = here / name
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o666)


def prepare(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Write the runner and fetch the project into ``args.into``; return the exit code."""
    try:
        into: Path = args.into
        runner_path = write_runner(into / RUNNER)
        print(f"[mlkube] wrote {runner_path}", flush=True)
        write_auth_plugin(into / AUTH_PLUGIN)
        directory = fetch_project(args, into / PROJECT, env)
        if not args.path:
            print(f"[mlkube] fetched the project into {directory}", flush=True)
        return 0
    except (RunnerError, StorageError, OSError) as err:
        print(f"[mlkube] error: {err}", file=sys.stderr, flush=True)
        write_termination_message(str(err))
        return 2


def run_here(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """`mlkube project run`: fetch the project into a temporary directory and run it here."""
    with tempfile.TemporaryDirectory(prefix="mlkube-run-") as tmp:
        try:
            directory = fetch_project(args, Path(tmp) / PROJECT, env)
        except (RunnerError, StorageError, OSError) as err:
            print(f"[mlkube] error: {err}", file=sys.stderr, flush=True)
            write_termination_message(str(err))
            return 2
        return runner.run(
            argparse.Namespace(
                path=str(directory),
                workdir=tmp,
                entry_point=args.entry_point,
                param=args.param,
                auth_plugin=None,
                workers=1,  # one process, here
            ),
            env,
        )


def build_run_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(prog="mlkube project run")
    return runner.add_run_arguments(add_source_arguments(parser))


def main(argv: Sequence[str] | None = None) -> int:
    return prepare(build_parser().parse_args(argv), os.environ)
