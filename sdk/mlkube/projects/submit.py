"""`mlkube run`: upload a local project (or name a remote one) and create a Run for it.

A local project is packed and PUT through the tracking server's artifact proxy
(``MLFLOW_TRACKING_URI``) with the user's token (``MLFLOW_TRACKING_TOKEN``) into the Run's
namespace; the Run names it ``mlflow-artifacts:/projects/<sha256>.tar.gz``. No object-store key
is needed, on the laptop or in the pod (issue 13).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkube import layout
from mlkube.api import API_VERSION, Run, RunSpec, SpecError, parse
from mlkube.api.kinds import RUN
from mlkube.projects.archive import upload
from mlkube.projects.mlproject import load_project
from mlkube.projects.runner import parse_parameters
from mlkube.storage import StorageError

if TYPE_CHECKING:
    from mlkube.client import Resources

TERMINAL = {"Succeeded", "Failed", "Killed"}


def slug(text: str) -> str:
    cleaned = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return (cleaned or "run")[:40].rstrip("-")


def git_commit(directory: Path) -> str | None:
    """HEAD of the git checkout holding ``directory``, or None when it is in none (or git is
    missing): the commit an archive packed from it was made from (``mlflow.source.git.commit``).
    Uncommitted changes travel in the archive too; the commit names their base, as MLflow's
    does for a local project."""
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def run_body(
    name: str | None,
    generate_name: str,
    spec: Mapping[str, Any],
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A Run manifest, checked against the model before it is sent."""
    metadata: dict[str, Any] = {"name": name} if name else {"generateName": generate_name + "-"}
    if annotations:
        metadata["annotations"] = dict(annotations)
    try:
        checked = parse(RunSpec, dict(spec), "spec")
    except SpecError as err:
        raise SystemExit("error: " + "; ".join(err.problems)) from None
    return {
        "apiVersion": API_VERSION,
        "kind": "Run",
        "metadata": metadata,
        "spec": checked.to_wire(),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", nargs="?", help="a local project directory to upload")
    parser.add_argument(
        "--uri",
        help="a project archive instead of a directory: mlflow-artifacts:/projects/<sha256>.tar.gz "
        "or s3://bucket/key (give the Run the credentials for that one yourself)",
    )
    parser.add_argument("--git", help="a git URL instead of a directory")
    parser.add_argument("--revision", default="HEAD", help="git revision (with --git)")
    parser.add_argument("--path", dest="image_path", help="a project directory in the image")
    parser.add_argument("-e", "--entry-point", default="main")
    parser.add_argument("-P", "--param", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--experiment", default="default", help="Experiment name (default: default)"
    )
    parser.add_argument("--name", help="the Run's name (default: generated from the project's)")
    parser.add_argument("-n", "--namespace", default=os.environ.get("MLKUBE_NAMESPACE", "default"))
    parser.add_argument("--image", help="container image (default: the operator's runtime image)")
    parser.add_argument("--wait", action="store_true", help="wait for the run to end")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait (--wait)")


def submit(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from mlkube.client import ClientError, Resources

    sources = [s for s in (args.project, args.uri, args.git, args.image_path) if s]
    if len(sources) != 1:
        print("error: give exactly one of PROJECT, --uri, --git, --path", file=sys.stderr)
        return 2
    project: dict[str, Any]
    annotations: dict[str, str] = {}
    base = "run"
    if args.project:
        directory = Path(args.project)
        base = load_project(directory).name
        print(f"uploading {directory} ...", flush=True)
        try:
            uri = upload(directory, env, args.namespace)
        except StorageError as err:
            print(f"error: the project was not uploaded: {err}", file=sys.stderr)
            return 1
        print(f"  stored as {uri}")
        project = {"uri": uri}
        commit = git_commit(directory)
        if commit:
            annotations[layout.GIT_COMMIT_ANNOTATION] = commit
    elif args.uri:
        project = {"uri": args.uri}
    elif args.git:
        project = {"git": {"url": args.git, "revision": args.revision}}
    else:
        project = {"path": args.image_path}
    spec: dict[str, Any] = {
        "experiment": args.experiment,
        "project": project,
        "entryPoint": args.entry_point,
        "parameters": parse_parameters(args.param),
    }
    if args.image:
        spec["image"] = args.image
    resources = Resources.connect(env.get("KUBECONFIG"))
    try:
        name = create_run(
            resources,
            args.namespace,
            name=args.name,
            generate_name=slug(base),
            spec=spec,
            annotations=annotations,
        )
    except ClientError as err:
        print(f"error: the API server refused the Run: {err}", file=sys.stderr)
        return 1
    if not args.wait:
        return 0
    run = wait_run(resources, args.namespace, name, args.timeout)
    return 0 if run.status.phase == "Succeeded" else 1


def create_run(
    resources: Resources,
    namespace: str,
    *,
    name: str | None,
    generate_name: str,
    spec: Mapping[str, Any],
    annotations: Mapping[str, str],
) -> str:
    """Create a Run (``name``, or one generated from ``generate_name``) and say how to follow
    it; return its name. ClientError when the API server refuses it."""
    annotations = dict(annotations)
    # The API server records no creator on an object. This is who the API server says these
    # credentials are, as `mlkube run` claims it: anyone who can create Runs can write another
    # name here (docs/security.md), so it labels the run (mlflow.user); it authorizes nothing.
    user = resources.whoami()
    if user:
        annotations[layout.CREATED_BY_ANNOTATION] = user
    body = run_body(name, generate_name, spec, annotations)
    created = resources.create(RUN, namespace, body)
    name = str(created["metadata"]["name"])
    print(f"run/{name} created in namespace {namespace}")
    print(f"  watch it:  kubectl get run {name} -n {namespace} -w")
    print(f"  its logs:  kubectl logs -n {namespace} job/{name} -f")
    return name


def wait_run(resources: Resources, namespace: str, name: str, timeout: float) -> Run:
    """Wait for the Run to end and print how it did."""
    done = resources.wait_for(RUN, namespace, name, field="phase", values=TERMINAL, timeout=timeout)
    run = parse(Run, done)
    print(
        f"run/{name}: {run.status.phase}"
        + (f": {run.status.message}" if run.status.message else "")
    )
    return run
