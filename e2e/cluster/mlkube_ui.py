"""`mlkube ui` as a process, for tests: start it, read the sign-in link it prints, exchange the link
for the session cookie as a browser would, and stop it with Ctrl-C, every wait bounded."""

from __future__ import annotations

import http.client
import os
import queue
import signal
import subprocess
import sys
import threading
import urllib.parse
from types import TracebackType
from typing import IO

LINK_PREFIX = "mlkube ui: http://127.0.0.1:"
WAIT = 30.0


def ui_environment(**extra: str) -> dict[str, str]:
    """This process's environment without its tracking settings (MLFLOW_*, MLKUBE_*) or a display
    (no browser is opened), plus ``extra``; PYTHONPATH stays, so a checkout runs its own CLI."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MLFLOW_", "MLKUBE_")) and key not in ("DISPLAY", "WAYLAND_DISPLAY")
    }
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


class UiProcess:
    """A running ``mlkube ui ARGS``; killed on leaving the ``with`` block if still running."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlkube.cli", "ui", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)

    def link(self, timeout: float = WAIT) -> str:
        """The sign-in link, once printed; fails with the process's stderr if none comes."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                self.process.kill()
                _, err = self.process.communicate(timeout=WAIT)
                raise AssertionError(f"mlkube ui printed no link; stderr: {err}") from None
            if line.startswith(LINK_PREFIX):
                return line.removeprefix("mlkube ui: ").strip()

    def stop(self) -> tuple[int, str]:
        """Ctrl-C; the exit status and what it printed since the link."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=WAIT)
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        return code, "".join(rest)

    def __enter__(self) -> UiProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=WAIT)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def session_cookie(link: str) -> str:
    """Open the sign-in link as a browser would; the session cookie as ``name=value``."""
    parts = urllib.parse.urlsplit(link)
    connection = http.client.HTTPConnection(str(parts.hostname), parts.port, timeout=WAIT)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        response = connection.getresponse()
        response.read()
        cookie = response.getheader("Set-Cookie")
    finally:
        connection.close()
    if response.status != 200 or not cookie:
        raise AssertionError(f"the sign-in link answered {response.status}, cookie {cookie!r}")
    return cookie.split(";")[0]
