"""Running the build's commands: progress lines, errors that name the step, one build at a time."""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from images.spec import BuildError


class Log:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"[images] {message}", flush=True)


def run(
    step: str,
    cmd: Sequence[str],
    log: Log,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    echo: Callable[[str], bool] = lambda line: False,
) -> str:
    """Run ``cmd``, echoing the output lines ``echo`` selects; return stdout and stderr together.

    On failure, raise a BuildError naming ``step`` with the command and the tail of its output.
    """
    try:
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as err:
        raise BuildError(f"{step}: cannot run `{cmd[0]}`: {err}") from err
    assert proc.stdout is not None
    output: list[str] = []
    for line in proc.stdout:
        output.append(line)
        if echo(line):
            log(f"  {line.rstrip()[:150]}")
    if proc.wait() != 0:
        tail = "".join(deque(output, maxlen=40)).rstrip()
        command = " ".join(cmd)
        raise BuildError(
            f"{step} failed (exit {proc.returncode}): {command}\n--- output ---\n{tail}"
        )
    return "".join(output)


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """One build at a time per cache (the harness and a developer may both run it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
