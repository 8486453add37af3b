"""The in-pod runner, `mlkube project run`: fetch the project, check parameters, run it.

It is the main container of every Run's Job. Output streams through as it comes; when the entry
point (or anything before it) fails, the last lines of the error go to the termination message
file, which the kubelet copies into the pod status and the operator into the Run's message.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from mlkube.projects.archive import unpack
from mlkube.projects.command import render_command
from mlkube.projects.mlproject import Project, ProjectError, load_project
from mlkube.storage import S3Location, S3Settings, StorageError, download

TERMINATION_LOG = "/dev/termination-log"
# The kubelet keeps at most 4 KiB of a termination message; keep well under it.
MESSAGE_LIMIT = 2000
TAIL_LINES = 20


class RunnerError(RuntimeError):
    """A failure before the entry point ran; its message becomes the termination message."""


def write_termination_message(text: str, path: str | None = None) -> None:
    target = Path(path or os.environ.get("MLKUBE_TERMINATION_LOG", TERMINATION_LOG))
    message = text.strip()
    if len(message) > MESSAGE_LIMIT:
        message = "..." + message[-(MESSAGE_LIMIT - 3) :]
    # Outside a pod there is no termination log; stderr already has the message.
    with contextlib.suppress(OSError):
        target.write_text(message + "\n")


def fetch_project(args: argparse.Namespace, workdir: Path, env: Mapping[str, str]) -> Path:
    """Materialise the project's directory from an s3:// archive, a git repository or a path."""
    if args.uri:
        settings = S3Settings.from_env(env)
        location = S3Location.parse(args.uri)
        archive = download(settings.client(), location, workdir / "project.tar.gz")
        target = workdir / "project"
        unpack(archive, target)
        archive.unlink()
        return target
    if args.git:
        target = workdir / "repo"
        clone = ["git", "clone", "--quiet", "--no-checkout", args.git, str(target)]
        _checked(clone, "git clone")
        _checked(["git", "-C", str(target), "checkout", "--quiet", args.revision], "git checkout")
        return target / (args.subdirectory or "")
    return Path(args.path)


def _checked(command: Sequence[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    if result.returncode != 0:
        raise RunnerError(f"{what} failed: {result.stderr.strip() or result.stdout.strip()}")


def missing_requirements(project: Project) -> list[str]:
    """The python_env dependencies that are not installed (checked by distribution name)."""
    if project.python_env is None or not project.python_env.is_file():
        return []
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import InvalidRequirement, Requirement

    spec = yaml.safe_load(project.python_env.read_text()) or {}
    missing = []
    for line in spec.get("dependencies", []) or []:
        text = str(line).strip()
        if text.startswith("-r"):
            missing.append(text)  # a requirements file: let pip decide
            continue
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            missing.append(text)
            continue
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            missing.append(text)
            continue
        if requirement.specifier and not requirement.specifier.contains(
            installed, prereleases=True
        ):
            missing.append(text)
    return missing


def install(requirements: list[str], project: Project) -> None:
    print(f"[mlkube] installing {', '.join(requirements)}", flush=True)
    command = [sys.executable, "-m", "pip", "install", "--quiet", *requirements]
    result = subprocess.run(
        command, cwd=project.directory, capture_output=True, text=True, check=False, timeout=1800
    )
    if result.returncode != 0:
        raise RunnerError(f"pip install failed: {result.stderr.strip()[-MESSAGE_LIMIT:]}")


def stream(command: str, cwd: Path) -> tuple[int, str]:
    """Run ``command`` in bash, echoing its output; return its exit code and its last lines."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    proc = subprocess.Popen(
        ["bash", "-c", command],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        tail.append(line.rstrip("\n"))
    return proc.wait(), "\n".join(tail)


def parse_parameters(pairs: Sequence[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise RunnerError(f"-P {pair!r}: expected key=value")
        values[key] = value
    return values


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(prog="mlkube project run")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--uri", help="s3:// URI of a project archive")
    source.add_argument("--git", help="git URL of the project's repository")
    source.add_argument("--path", help="directory of the project inside this image")
    parser.add_argument("--revision", default="HEAD", help="git revision (with --git)")
    parser.add_argument("--subdirectory", default="", help="project directory inside the repo")
    parser.add_argument("-e", "--entry-point", default="main")
    parser.add_argument(
        "-P", "--param", action="append", default=[], metavar="KEY=VALUE", help="a parameter"
    )
    return parser


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Run the project; return the exit code the container should end with."""
    try:
        with tempfile.TemporaryDirectory(prefix="mlkube-run-") as tmp:
            directory = fetch_project(args, Path(tmp), env)
            project = load_project(directory)
            entry_point = project.entry_point(args.entry_point)
            command = render_command(
                entry_point, parse_parameters(args.param), workdir=project.directory
            )
            requirements = missing_requirements(project)
            if requirements:
                install(requirements, project)
            print(f"[mlkube] {project.name}:{entry_point.name} $ {command}", flush=True)
            code, tail = stream(command, project.directory)
            if code != 0:
                write_termination_message(f"exit code {code}: {tail}")
            return code
    except (ProjectError, RunnerError, StorageError, FileNotFoundError) as err:
        print(f"[mlkube] error: {err}", file=sys.stderr, flush=True)
        write_termination_message(str(err))
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv), os.environ)
