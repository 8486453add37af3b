"""Start, health-check and stop the local control plane's processes, leaving no orphans.

Each process runs in its own session (so its whole process group can be signalled) and records its
pid in ``<state>/pids/<name>.pid`` with the command it runs, so a later `make down` from another
shell stops exactly what `make up` started, and never a stranger that reused a pid.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1
# Where Debian keeps the node's programs (runc, iptables, nft, sysctl are in sbin), whatever PATH
# the caller had (a test or `make demo` may run with a minimal one).
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def system_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment with the system's program directories on PATH."""
    env = {**os.environ, **(extra or {})}
    env["PATH"] = f"{env['PATH']}:{SYSTEM_PATH}" if env.get("PATH") else SYSTEM_PATH
    return env


_CLONE_NEWNET = 0x40000000


def _preexec(die_with_parent: bool, netns: Path | None) -> Callable[[], None] | None:
    """What the child does between fork and exec: enter the node's network namespace (only that
    namespace: mounts stay the host's, unlike `ip netns exec`), and get SIGTERM when the parent
    (the test session) dies, however it dies."""
    if not die_with_parent and netns is None:
        return None

    def run() -> None:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        if netns is not None:
            fd = os.open(netns, os.O_RDONLY)
            if libc.setns(fd, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns {netns}")
            os.close(fd)
        if die_with_parent:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return run


def http_ok(url: str, *, ca: Path | None = None, insecure: bool = False) -> Callable[[], bool]:
    """A health check: True when ``url`` answers 200."""

    def check() -> bool:
        context = None
        if url.startswith("https"):
            context = ssl.create_default_context(cafile=str(ca) if ca else None)
            if insecure:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    return check


@dataclass
class Service:
    name: str
    argv: Sequence[str]
    healthy: Callable[[], bool]
    env: dict[str, str] = field(default_factory=dict)
    start_timeout: float = 60.0
    # Runs just before the process starts (e.g. to grant the permissions it needs).
    prepare: Callable[[], None] | None = None
    # The network namespace (a /run/netns path) the process runs in; None: the host's.
    netns: Path | None = None


class StartError(RuntimeError):
    pass


def _alive(pid: int, argv0: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return False
    return cmdline == argv0


def running_in(state: Path) -> dict[str, int]:
    """Name -> pid of every process recorded in ``state`` that is still alive."""
    alive = {}
    for pidfile in (state / "pids").glob("*.pid"):
        try:
            record = json.loads(pidfile.read_text())
        except (OSError, ValueError):
            continue
        if _alive(record["pid"], record["argv0"]):
            alive[pidfile.stem] = int(record["pid"])
    return alive


class Supervisor:
    """Owns the processes of one state directory."""

    def __init__(self, state: Path, *, detach: bool) -> None:
        self.state = state
        self.detach = detach
        self.pids = state / "pids"
        self.logs = state / "logs"
        self.pids.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)

    def log_path(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def start(self, service: Service) -> None:
        """Start ``service`` and wait until it is healthy; raise with its log tail otherwise."""
        if service.prepare is not None:
            service.prepare()
        log = self.log_path(service.name)
        with log.open("ab") as out:
            proc = subprocess.Popen(
                list(service.argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=system_env(service.env),
                start_new_session=True,
                # setns and prctl must run in the child between fork and exec; no other hook.
                preexec_fn=_preexec(not self.detach, service.netns),  # noqa: PLW1509
            )
        (self.pids / f"{service.name}.pid").write_text(
            json.dumps({"pid": proc.pid, "argv0": service.argv[0]})
        )
        deadline = time.monotonic() + service.start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise StartError(f"{service.name} exited with {proc.returncode}:\n{self.tail(log)}")
            if service.healthy():
                return
            time.sleep(0.2)
        raise StartError(
            f"{service.name} not healthy after {service.start_timeout:.0f}s:\n{self.tail(log)}"
        )

    @staticmethod
    def tail(log: Path, lines: int = 30) -> str:
        try:
            return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def running(self) -> dict[str, int]:
        """Name -> pid of every recorded process that is still alive."""
        return running_in(self.state)

    def stop(self, names: Sequence[str], grace: float = 10.0) -> None:
        """Stop the named processes in order: SIGTERM to the group, then SIGKILL after ``grace``."""
        for name in names:
            pidfile = self.pids / f"{name}.pid"
            if not pidfile.exists():
                continue
            record = json.loads(pidfile.read_text())
            pid = int(record["pid"])
            if _alive(pid, record["argv0"]):
                _signal_group(pid, signal.SIGTERM)
                deadline = time.monotonic() + grace
                while time.monotonic() < deadline and _alive(pid, record["argv0"]):
                    _reap(pid)
                    time.sleep(0.1)
            # Whatever is left of the group (also children that outlived their parent) is killed.
            _signal_group(pid, signal.SIGKILL)
            _reap(pid)
            pidfile.unlink()

    def kill(self, name: str, timeout: float = 10.0) -> None:
        """SIGKILL the named process's group at once, with no grace (what a crash, an OOM kill
        or a lost node does to it), and wait until it is gone."""
        pidfile = self.pids / f"{name}.pid"
        record = json.loads(pidfile.read_text())
        pid = int(record["pid"])
        _signal_group(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while _alive(pid, record["argv0"]):
            _reap(pid)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} ({pid}) still alive {timeout:.0f}s after SIGKILL")
            time.sleep(0.05)
        pidfile.unlink()

    def send(self, name: str, sig: signal.Signals) -> None:
        """Send ``sig`` to the named process's group (SIGSTOP freezes it, as a hung peer that
        keeps its connections open; SIGCONT thaws it)."""
        record = json.loads((self.pids / f"{name}.pid").read_text())
        _signal_group(int(record["pid"]), sig)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _reap(pid: int) -> None:
    """Collect a child's exit status, so a stopped child does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
