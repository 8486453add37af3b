"""The runner, the main container of a Run's Job: check the parameters, run the entry point.

It runs in the Run's own image as ``python3 /mlkube/runner.pyz --path DIR -e ENTRY -P k=v ...``:
the Job's init container (``mlkube project prepare``) wrote the zipapp (``mlkube.projects.bundle``)
and the project's files into the shared ``/mlkube`` volume. So this module, like the modules it
imports, needs nothing but python3 >= 3.9 and its standard library (PyYAML and packaging travel in
the zipapp; ruff checks the syntax against 3.9, see pyproject.toml): the user's image needs no
mlkube.

When the project's python_env lists dependencies that the image's python lacks, they go into a
virtualenv (``--system-site-packages``, so what the image has stays visible) inside the work
directory, whose ``bin`` then leads PATH: Debian's python3 refuses ``pip install`` into the system
(PEP 668), and the image's own files stay untouched.

Output streams through as it comes; when the entry point (or anything before it) fails, the last
lines of the error go to the termination message file, which the kubelet copies into the pod
status and the operator into the Run's message. When the code died of a Python exception, the
message starts with the exception line (``ValueError: ...``), what a user needs first, and the
tail follows (issue 12).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from mlkube.projects import facts, ranks
from mlkube.projects.command import render_command
from mlkube.projects.mlproject import Project, ProjectError, load_project

TERMINATION_LOG = "/dev/termination-log"
# The kubelet keeps at most 4 KiB of a termination message; keep well under it.
MESSAGE_LIMIT = 2000
TAIL_LINES = 20
VENV = "venv"
# The request-auth provider's name (mlkube.projects.mlflow_auth.NAME).
AUTH_PROVIDER = "mlkube"
TRACEBACK_HEADER = "Traceback (most recent call last):"
# How long a run that ended waits for its project tags to be set (facts.report), at most.
REPORT_WAIT = 60.0


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


class ExceptionWatch:
    """Follows output line by line and keeps the exception line of the last Python traceback.

    A traceback is its header, indented frame lines, then the first unindented line: the
    exception's type and text (``botocore.exceptions.NoCredentialsError: Unable to locate
    credentials``). Chained exceptions print several; the last one is what ended the program.
    Watching the whole output matters because a deep stack pushes the header out of the tail.
    """

    def __init__(self) -> None:
        self.exception: str | None = None
        self._in_traceback = False

    def feed(self, line: str) -> None:
        if line.startswith(TRACEBACK_HEADER):
            self._in_traceback = True
        elif self._in_traceback and line.strip() and not line[0].isspace():
            self.exception = line.rstrip("\n")
            self._in_traceback = False


def failure_message(code: int, tail: str, exception: str | None = None) -> str:
    """``<exception line>\nexit code N: <tail>`` within MESSAGE_LIMIT (without an exception,
    ``exit code N: <tail>``): the start is kept whole and the tail loses its oldest characters."""
    head = f"{exception.strip()[: MESSAGE_LIMIT // 2]}\n" if exception else ""
    prefix = f"exit code {code}: "
    tail = tail.strip()
    room = MESSAGE_LIMIT - len(head) - len(prefix)
    if len(tail) > room:
        tail = "..." + tail[-(room - 3) :]
    return f"{head}{prefix}{tail}"


def dependencies(project: Project) -> list[str]:
    """The ``dependencies`` of the project's python_env file, as written."""
    if project.python_env is None or not project.python_env.is_file():
        return []
    try:
        spec = yaml.safe_load(project.python_env.read_text()) or {}
    except yaml.YAMLError as err:
        raise RunnerError(f"{project.python_env.name} is not valid YAML: {err}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("dependencies") or [], list):
        raise RunnerError(
            f"{project.python_env.name}: expected a mapping whose dependencies is a list"
        )
    return [str(line).strip() for line in spec.get("dependencies") or [] if str(line).strip()]


def missing_requirements(project: Project) -> list[str]:
    """The python_env dependencies that are not installed (checked by distribution name and
    version, in the python that runs this)."""
    wanted = dependencies(project)
    if not wanted:
        return []
    from importlib.metadata import PackageNotFoundError, version

    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except (ImportError, SyntaxError):
        # The bundled packaging can be newer than this python (packaging 26 needs 3.10): then
        # pip, which brings its own, decides; what is already there it leaves alone.
        return wanted
    missing = []
    for text in wanted:
        if text.startswith("-"):
            missing.append(text)  # -r requirements.txt and other pip options: let pip decide
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


def checked(command: Sequence[str], what: str, cwd: Path | None = None, timeout: int = 600) -> None:
    """Run ``command``; when it fails, raise RunnerError with the end of what it said."""
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout
    )
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip())[-MESSAGE_LIMIT:]
        raise RunnerError(f"{what} failed: {output}")


_SITE_DIRECTORIES = (
    "import sys; print('\\n'.join(p for p in sys.path if p.endswith(('-packages', '-packages/'))))"
)


def _ask(python: str, code: str) -> list[str]:
    """The lines ``python -c code`` prints (run as a command would, with its site)."""
    result = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    if result.returncode != 0:
        raise RunnerError(f"{python} -c {code!r} failed: {result.stderr.strip()[-500:]}")
    return [line for line in result.stdout.splitlines() if line.strip()]


def install(requirements: list[str], project: Project, workdir: Path) -> Path:
    """Install ``requirements`` into a virtualenv under ``workdir``; return its bin directory."""
    venv = workdir / VENV
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"[mlkube] creating a virtualenv in {venv}", flush=True)
        try:
            checked(
                [sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                f"{sys.executable} -m venv",
            )
        except RunnerError as err:
            raise RunnerError(
                f"{err}; to install the python_env dependencies the image's python3 needs the "
                "venv module with ensurepip (Debian: apt-get install python3-venv)"
            ) from None
        # When the image's python3 is itself a virtualenv (mlkube-runtime's is), a venv made
        # from it sees the base interpreter's site-packages, not that venv's: name them in a
        # .pth file, read after the new venv's own, so the image's packages stay importable and
        # what pip installs wins.
        site = _ask(str(python), "import sysconfig; print(sysconfig.get_path('purelib'))")
        Path(site[0]).joinpath("mlkube-image-site.pth").write_text(
            "".join(f"{d}\n" for d in _ask(sys.executable, _SITE_DIRECTORIES))
        )
    print(f"[mlkube] installing {', '.join(requirements)}", flush=True)
    checked(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *requirements,
        ],
        "pip install",
        cwd=project.directory,
        timeout=1800,
    )
    return venv / "bin"


def with_auth_plugin(env: Mapping[str, str], plugin: Path | None) -> dict[str, str]:
    """``env`` with the "mlkube" request-auth plugin (the init container wrote it into
    ``plugin``) first on PYTHONPATH and chosen by ``MLFLOW_TRACKING_AUTH``, so the stock mlflow
    client sends the pod's token on every request. A user who set ``MLFLOW_TRACKING_TOKEN`` or
    ``MLFLOW_TRACKING_AUTH`` in the Run's env keeps what they chose."""
    out = dict(env)
    if plugin is None or env.get("MLFLOW_TRACKING_TOKEN") or env.get("MLFLOW_TRACKING_AUTH"):
        return out
    out["PYTHONPATH"] = os.pathsep.join(p for p in (str(plugin), env.get("PYTHONPATH")) if p)
    out["MLFLOW_TRACKING_AUTH"] = AUTH_PROVIDER
    return out


def command_environment(
    env: Mapping[str, str], workdir: Path, venv_bin: Path | None, auth_plugin: Path | None = None
) -> dict[str, str]:
    """The entry point's environment: the virtualenv first on PATH, a ``python``, and the
    auth plugin (``with_auth_plugin``).

    MLproject commands say ``python``; images with only ``python3`` (Debian's) get a ``python``
    that is the interpreter running this.
    """
    out = with_auth_plugin(env, auth_plugin)
    search = [str(venv_bin)] if venv_bin else []
    if venv_bin:
        out["VIRTUAL_ENV"] = str(venv_bin.parent)
    path = os.pathsep.join([*search, env.get("PATH") or os.defpath])
    if shutil.which("python", path=path) is None and sys.executable:
        shims = workdir / "bin"
        shims.mkdir(parents=True, exist_ok=True)
        link = shims / "python"
        if not link.exists():
            link.symlink_to(sys.executable)
        path = os.pathsep.join([str(shims), path])
    out["PATH"] = path
    return out


def stream(
    command: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    *,
    init: bool | None = None,
) -> tuple[int, str, str | None]:
    """Run ``command`` in bash, echoing its output; return its exit code (128 + N for a death
    by signal N), its last lines and the exception line of the traceback that ends them (None
    when they end in none).

    ``init``: this process is its container's PID 1 (the default: asks the kernel). The kernel
    delivers no signal to a PID 1 that has no handler for it, so without one the pod's SIGTERM
    (the pod deleted, a Run suspended, the Job controller stopping the other ranks of a failed
    distributed Run) would be ignored until the grace period ends in SIGKILL. As PID 1 the
    command runs as its own process group and SIGTERM is passed on to all of it (a compound
    command's processes too), so the code stops at once, or as its own handler says.
    """
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    watch = ExceptionWatch()
    # (Only the main thread may set a handler; runner.run called from another sets none.)
    forward = (os.getpid() == 1 if init is None else init) and (
        threading.current_thread() is threading.main_thread()
    )
    try:
        proc = subprocess.Popen(
            ["bash", "-c", command],
            cwd=cwd,
            env=None if env is None else dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=forward,
        )
    except FileNotFoundError:
        raise RunnerError("bash is not in this image: entry point commands run with bash") from None
    assert proc.stdout is not None

    def pass_on(signum: int, _: object) -> None:
        with contextlib.suppress(ProcessLookupError):  # the group is gone already
            os.killpg(proc.pid, signum)

    previous = signal.signal(signal.SIGTERM, pass_on) if forward else None
    try:
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            tail.append(line.rstrip("\n"))
            watch.feed(line)
        code = proc.wait()
    finally:
        if forward:
            signal.signal(signal.SIGTERM, previous)
    # Only an exception printed among the last lines explains the exit: an earlier traceback
    # (logged and handled) must not be blamed for a later failure.
    exception = watch.exception if watch.exception in tail else None
    return (128 - code if code < 0 else code), "\n".join(tail), exception


def parse_parameters(pairs: Sequence[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise RunnerError(f"-P {pair!r}: expected key=value")
        values[key] = value
    return values


def add_run_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The entry point and its parameters (shared with ``mlkube project run``)."""
    parser.add_argument("-e", "--entry-point", default="main")
    parser.add_argument(
        "-P", "--param", action="append", default=[], metavar="KEY=VALUE", help="a parameter"
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runner.pyz", description="Run an MLflow project's entry point in this image."
    )
    parser.add_argument("--path", required=True, help="the project's directory")
    parser.add_argument(
        "--workdir",
        help="a writable directory for the virtualenv of missing requirements "
        "(default: a temporary one)",
    )
    parser.add_argument(
        "--auth-plugin",
        type=Path,
        help="a directory holding MLflow's request-auth plugin 'mlkube' (written by the init "
        "container): put first on the entry point's PYTHONPATH",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="the run's number of ranks (spec.workers); above 1 this pod is rank RANK, and "
        "only rank 0's code logs to the run",
    )
    return add_run_arguments(parser)


def reported_tags(project: Project, rank: int | None) -> dict[str, str]:
    """The tags this pod sets on the run: the project's (one pod does, rank 0 of a distributed
    run) and, for a rank, the host it ran on."""
    tags = facts.project_tags(project) if not rank else {}
    if rank is not None:
        tags[ranks.host_tag(rank)] = socket.gethostname()
    return tags


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Run the project in ``args.path``; return the exit code the container should end with."""
    try:
        with contextlib.ExitStack() as stack:
            workdir = Path(
                args.workdir or stack.enter_context(tempfile.TemporaryDirectory(prefix="mlkube-"))
            ).resolve()
            rank = ranks.rank_of(env, args.workers) if args.workers > 1 else None
            project = load_project(Path(args.path))
            entry_point = project.entry_point(args.entry_point)
            command = render_command(
                entry_point, parse_parameters(args.param), workdir=project.directory
            )
            requirements = missing_requirements(project)
            venv_bin = install(requirements, project, workdir) if requirements else None
            where = "" if rank is None else f" (rank {rank} of {args.workers})"
            print(f"[mlkube] {project.name}:{entry_point.name}{where} $ {command}", flush=True)
            # mlflow.project.env and the git commit, as `mlflow run` sets them (issue 14).
            reporting = facts.report_in_background(env, reported_tags(project, rank))
            code, tail, exception = stream(
                command,
                project.directory,
                command_environment(
                    ranks.code_environment(env, rank), workdir, venv_bin, args.auth_plugin
                ),
            )
            reporting.join(timeout=REPORT_WAIT)
            if code != 0:
                write_termination_message(failure_message(code, tail, exception))
            return code
    except (
        ProjectError,
        RunnerError,
        ranks.RankError,
        OSError,
        subprocess.SubprocessError,
    ) as err:
        print(f"[mlkube] error: {err}", file=sys.stderr, flush=True)
        write_termination_message(str(err))
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv), os.environ)
