"""The container runtime side of the agent: starts shims, follows their events, stops them.

Every shim is started from one long-lived thread: the shim's death signal
(``PR_SET_PDEATHSIG``) fires when the *thread* that forked it exits, so spawning from short-lived
threads would kill containers at random. One monitor thread reads every shim's status pipe.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import e2e

log = logging.getLogger(__name__)
# `python -m e2e.cluster.agent.shim` must import from the checkout whatever the agent's cwd.
_REPO = Path(e2e.__file__).resolve().parent.parent
# How long a SIGKILLed shim may take to be reaped before we give up waiting.
_REAP_TIMEOUT = 10.0


def _kept_host_paths() -> list[str]:
    """Host directories a container must see although they lie under a top a container gets its
    own of (/tmp, /run): the checkout and the Python environment the mlkube and python images
    run from. A CI clone or a virtualenv under /tmp would otherwise vanish inside every pod."""
    candidates = {_REPO, Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).parent}
    private = ("/tmp/", "/run/")
    return sorted(str(p) for p in candidates if p.is_dir() and str(p.resolve()).startswith(private))


KEPT_HOST_PATHS = _kept_host_paths()


@dataclass(frozen=True)
class Mount:
    source: Path
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class ContainerConfig:
    """Everything the shim needs to run one container instance."""

    pod_uid: str
    name: str
    argv: list[str]
    env: dict[str, str]
    working_dir: str
    hostname: str
    mounts: list[Mount]
    log_path: Path
    instance_dir: Path
    shm_dir: Path
    uid: int | None = None
    gid: int | None = None
    # Directories a non-root user must be able to reach (the image's programs).
    traversable: tuple[str, ...] = ()

    @property
    def termination_log(self) -> Path:
        return self.instance_dir / "termination-log"


@dataclass
class Exit:
    exit_code: int
    reason: str
    message: str | None
    finished_at: str


@dataclass(eq=False)
class Handle:
    """One started container instance."""

    config: ContainerConfig
    container_id: str
    process: subprocess.Popen[bytes] | None = None
    pid: int | None = None  # the PID namespace's init, for nsenter
    started_at: str | None = None
    exit: Exit | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def running(self) -> bool:
        return self.started_at is not None and self.exit is None

    def signal(self, sig: signal.Signals) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Runtime:
    def __init__(self, on_change: Callable[[str], None]) -> None:
        """``on_change(pod_uid)`` is called (from the monitor thread) when a container of that pod
        starts or exits."""
        self.on_change = on_change
        self._spawns: queue.Queue[tuple[Handle, Future[None]] | None] = queue.Queue()
        self._selector = selectors.DefaultSelector()
        self._pipes: dict[int, tuple[Handle, bytearray]] = {}
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._handles: set[Handle] = set()
        self._stopping = threading.Event()
        self._spawner = threading.Thread(target=self._spawn_loop, name="spawner", daemon=True)
        self._monitor = threading.Thread(target=self._monitor_loop, name="monitor", daemon=True)
        self._spawner.start()
        self._monitor.start()

    # -- starting -------------------------------------------------------------------------------

    def start(self, config: ContainerConfig) -> Handle:
        """Start a container instance; its events arrive later through ``on_change``."""
        if self._stopping.is_set():
            raise RuntimeError("the runtime is shutting down")
        handle = Handle(
            config=config, container_id=f"mlkube://{uuid.uuid4().hex}{uuid.uuid4().hex}"
        )
        future: Future[None] = Future()
        self._spawns.put((handle, future))
        future.result(timeout=30)
        return handle

    def _spawn_loop(self) -> None:
        while True:
            item = self._spawns.get()
            if item is None:
                return
            handle, future = item
            try:
                self._spawn(handle)
                future.set_result(None)
            except Exception as err:
                future.set_exception(err)

    def _spawn(self, handle: Handle) -> None:
        config = handle.config
        d = config.instance_dir
        shutil.rmtree(d, ignore_errors=True)
        for sub in ("rootfs", "upper", "work", "tmp"):
            (d / sub).mkdir(parents=True)
        (d / "tmp").chmod(0o1777)
        config.termination_log.touch()
        config.termination_log.chmod(0o666)
        config.log_path.parent.mkdir(parents=True, exist_ok=True)
        read, write = os.pipe()
        spec: dict[str, Any] = {
            "argv": config.argv,
            "env": config.env,
            "working_dir": config.working_dir,
            "hostname": config.hostname,
            "uid": config.uid,
            "gid": config.gid,
            "traversable": list(config.traversable),
            "host_paths": KEPT_HOST_PATHS,
            "rootfs": {
                "dir": str(d / "rootfs"),
                "upper": str(d / "upper"),
                "work": str(d / "work"),
                "tmp": str(d / "tmp"),
            },
            "shm": str(config.shm_dir),
            "mounts": [
                {"source": str(m.source), "target": m.target, "read_only": m.read_only}
                for m in config.mounts
            ],
            "log": str(config.log_path),
            "agent_pid": os.getpid(),
            "status_fd": write,
        }
        spec_path = d / "spec.json"
        spec_path.write_text(json.dumps(spec))
        with (d / "shim.log").open("ab") as shim_log:
            try:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-E",
                        "-s",
                        "-S",
                        "-m",
                        "e2e.cluster.agent.shim",
                        str(spec_path),
                    ],
                    cwd=_REPO,
                    stdin=subprocess.DEVNULL,
                    stdout=shim_log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(write,),
                    start_new_session=True,
                    env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                )
            except OSError:
                os.close(read)
                raise
            finally:
                os.close(write)
        handle.process = process
        with self._lock:
            self._handles.add(handle)
            self._pipes[read] = (handle, bytearray())
            self._selector.register(read, selectors.EVENT_READ)
        os.write(self._wake_w, b"x")

    # -- following ------------------------------------------------------------------------------

    def _monitor_loop(self) -> None:
        while True:
            for key, _ in self._selector.select(timeout=5.0):
                fd = int(key.fd)
                if fd == self._wake_r:
                    os.read(fd, 4096)
                    continue
                try:
                    self._read(fd)
                except Exception:
                    # One broken shim must not blind the agent to every other container.
                    log.exception("reading a container's status pipe")

    def _read(self, fd: int) -> None:
        with self._lock:
            handle, buffer = self._pipes[fd]
        data = os.read(fd, 65536)
        if data:
            buffer += data
            while (newline := buffer.find(b"\n")) != -1:
                line = bytes(buffer[:newline])
                del buffer[: newline + 1]
                try:
                    event = json.loads(line)
                except ValueError:
                    log.warning("container %s: bad status line %r", handle.container_id, line[:200])
                    continue
                self._event(handle, event)
            return
        with self._lock:
            self._selector.unregister(fd)
            del self._pipes[fd]
        os.close(fd)
        self._finish(handle)

    def _event(self, handle: Handle, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "started":
            handle.pid = int(event["pid"])
            handle.started_at = _seconds(event["time"])
        elif kind == "failed":
            handle.exit = Exit(
                128, str(event["reason"]), str(event["message"]), _seconds(event["time"])
            )
        elif kind == "exited":
            code = int(event["exitCode"])
            handle.exit = Exit(
                code, "Completed" if code == 0 else "Error", None, _seconds(event["time"])
            )
        self.on_change(handle.config.pod_uid)

    def _finish(self, handle: Handle) -> None:
        """The shim closed its status pipe: it has exited (or is about to)."""
        process = handle.process
        assert process is not None
        try:
            code = process.wait(timeout=_REAP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait(timeout=_REAP_TIMEOUT)
        if handle.exit is None and handle.started_at is None:
            # The shim died before the container started: say what it said.
            shim_log = handle.config.instance_dir / "shim.log"
            said = _tail(shim_log)
            handle.exit = Exit(
                128, "StartError", f"container shim exited with {code}: {said}", utc_now()
            )
        elif handle.exit is None:
            # The shim was killed before it could report (SIGKILL at the end of a grace period).
            exit_code = code if code >= 0 else 128 - code
            handle.exit = Exit(exit_code, "Error", None, utc_now())
        with self._lock:
            self._handles.discard(handle)
        handle.done.set()
        self.on_change(handle.config.pod_uid)

    # -- stopping -------------------------------------------------------------------------------

    def stop(self, handle: Handle, grace: float) -> None:
        """SIGTERM, up to ``grace`` seconds, then SIGKILL; returns once the shim is gone."""
        if handle.done.is_set():
            return
        handle.signal(signal.SIGTERM)
        if not handle.done.wait(max(grace, 0)):
            handle.signal(signal.SIGKILL)
            if not handle.done.wait(_REAP_TIMEOUT):
                log.error("container %s did not exit after SIGKILL", handle.container_id)

    def shutdown(self, grace: float) -> None:
        """Stop every container (the agent is exiting)."""
        self._stopping.set()
        with self._lock:
            handles = list(self._handles)
        for handle in handles:
            handle.signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for handle in handles:
            handle.done.wait(max(0.0, deadline - time.monotonic()))
        for handle in handles:
            handle.signal(signal.SIGKILL)
        for handle in handles:
            handle.done.wait(_REAP_TIMEOUT)
        self._spawns.put(None)


def _tail(path: Path, limit: int = 1024) -> str:
    try:
        return path.read_bytes()[-limit:].decode(errors="replace").strip()
    except OSError:
        return "(no output)"


def _seconds(timestamp: str) -> str:
    """RFC 3339 with nanoseconds -> the API's whole seconds."""
    return timestamp.split(".", 1)[0] + "Z" if "." in timestamp else timestamp
