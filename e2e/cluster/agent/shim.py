"""The container shim: one process per container, like containerd-shim + runc + tini in one.

The agent starts ``python -m e2e.cluster.agent.shim <spec.json>`` (stdlib only, so it starts in
~20 ms) with a status pipe on fd 3. The shim

1. asks for SIGKILL when the agent dies (``PR_SET_PDEATHSIG``), so no container outlives it;
2. enters new mount, PID and UTS namespaces;
3. builds the container's root: an overlay whose lower layer is the host's ``/`` and whose upper
   layer is a fresh directory of this container (writes stay private and vanish with it), a fresh
   ``/proc``, a read-only ``/sys``, a minimal ``/dev`` (null, zero, random, urandom, tty, ptmx,
   pts, the pod's shared ``shm``), a private ``/tmp`` and ``/run``, and the host's other
   filesystems (whatever is mounted on ``/``) as they are; it pivots into it and mounts the pod's
   volumes, ``/etc/hosts``, ``/etc/resolv.conf``, ``/etc/hostname`` and the termination-message
   file at the paths the container asks for (mount points are created in the overlay, so the
   host's root filesystem is never written);
4. forks the namespace's init (PID 1): it forwards signals to the container's process and reaps
   orphans; when it exits, the kernel kills everything left in the PID namespace, so a container
   can never leave a process behind (double forks and daemons included);
5. writes the container's stdout and stderr to its log file in the CRI format the kubelet uses
   (``<RFC3339Nano> <stream> <F|P> <text>``), rotating it at ``log_max_bytes``;
6. reports ``started`` / ``failed`` / ``exited`` events as JSON lines on fd 3 and exits with the
   container's exit code (128 + signal for a signalled process, as container runtimes do).

Signals: SIGTERM (and INT, HUP, QUIT, USR1, USR2) sent to the shim reach the container's process;
SIGKILL to the shim kills the init (death signal), which kills the namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import platform
import re
import select
import selectors
import signal
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWPID = 0x20000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
FORWARDED = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
PRIVATE_TOPS = ("/proc", "/sys", "/dev", "/tmp", "/run")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
    "ptmx": "pts/ptmx",
}
PARTIAL_LINE = 16 * 1024
DRAIN_SECONDS = 2.0

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {source or fstype} on {target}",
    )


def bind(source: str, target: str, *, read_only: bool = False, recursive: bool = True) -> None:
    mount(source, target, None, MS_BIND | (MS_REC if recursive else 0), None)
    if read_only:
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)


def die_with_parent(sig: int) -> None:
    _check(_libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def utc_now() -> str:
    """RFC 3339 with nanoseconds, UTC."""
    nanos = time.time_ns()
    seconds, fraction = divmod(nanos, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


# -- the container's filesystem ---------------------------------------------------------------


def _touch(path: str) -> None:
    if os.path.islink(path):
        # e.g. /etc/resolv.conf -> ../run/systemd/...: replace the link (in the overlay) by a file.
        os.unlink(path)
    if not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def build_root(spec: dict[str, Any]) -> None:
    """Runs in the new mount namespace: assemble the root, pivot into it, mount the volumes."""
    root = spec["rootfs"]
    new_root = root["dir"]
    for path in (root["upper"], root["work"]):
        if "," in path or ":" in path:
            raise OSError(errno.EINVAL, f"overlay path {path!r} contains ',' or ':'")
    # Nothing mounted from here on may propagate back to the host.
    mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    shared = host_submounts()
    mount(
        "overlay",
        new_root,
        "overlay",
        0,
        f"lowerdir=/,upperdir={root['upper']},workdir={root['work']}",
    )
    # The overlay shows the root filesystem only: other filesystems (a /home, a bind-mounted
    # checkout) are the host's own, as they are.
    for path in shared:
        if os.path.isdir(path):
            bind(path, new_root + path)
    bind("/sys", f"{new_root}/sys")
    # Read-only /sys as in a container; a host that refuses the remount keeps it read-write.
    with contextlib.suppress(OSError):
        mount(None, f"{new_root}/sys", None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)
    dev = f"{new_root}/dev"
    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k")
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            _touch(f"{dev}/{name}")
            bind(f"/dev/{name}", f"{dev}/{name}", recursive=False)
    for name, target in DEV_LINKS.items():
        os.symlink(target, f"{dev}/{name}")
    os.mkdir(f"{dev}/pts")
    mount(
        "devpts",
        f"{dev}/pts",
        "devpts",
        MS_NOSUID | MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=620",
    )
    os.mkdir(f"{dev}/shm")
    bind(spec["shm"], f"{dev}/shm")
    bind(root["tmp"], f"{new_root}/tmp")
    mount("tmpfs", f"{new_root}/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=65536k")
    # The checkout and the Python environment stay visible (read-only) even under /tmp or /run.
    for path in spec.get("host_paths", []):
        os.makedirs(new_root + path, exist_ok=True)
        bind(path, new_root + path, read_only=True)

    os.chdir(new_root)
    os.mkdir(".oldroot")
    machine = platform.machine()
    if machine not in SYS_PIVOT_ROOT:
        raise OSError(errno.ENOSYS, f"pivot_root: unsupported machine {machine}")
    _check(_libc.syscall(SYS_PIVOT_ROOT[machine], b".", b".oldroot"), "pivot_root")
    os.chdir("/")
    # Parents before children, so a volume inside another volume stays visible.
    for m in sorted(spec["mounts"], key=lambda m: m["target"].rstrip("/").count("/")):
        target = m["target"]
        source = "/.oldroot" + m["source"]
        if os.path.isdir(source):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            _touch(target)
        bind(source, target, read_only=m.get("read_only", False))
    _check(_libc.umount2(b"/.oldroot", MNT_DETACH), "umount /.oldroot")
    os.rmdir("/.oldroot")
    if spec.get("uid"):
        # A non-root user must reach the image's programs (e.g. a Python under /root): open the
        # way in this container's overlay only.
        for directory in spec.get("traversable", []):
            path = Path(directory)
            for step in [path, *path.parents]:
                with contextlib.suppress(OSError):
                    mode = step.stat().st_mode
                    if not mode & 0o001:
                        step.chmod((mode & 0o7777) | 0o001)


def host_submounts() -> list[str]:
    """Mount points directly on the host's root mount, except those a container gets its own of
    (/proc, /sys, /dev, /tmp, /run)."""
    entries = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        # Mount points escape blanks and the like as octal (\040).
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        entries.append((fields[0], fields[1], point))
    roots = [mount_id for mount_id, _, point in entries if point == "/"]
    if not roots:
        return []
    root_id = roots[-1]  # the topmost of the mounts stacked on /
    found = []
    for _, parent, point in entries:
        top = "/" + point.strip("/").split("/", 1)[0]
        if parent == root_id and point != "/" and top not in PRIVATE_TOPS:
            found.append(point)
    return found


# -- the namespace's init and the container's process -----------------------------------------


def _exec_message(program: str, err: OSError) -> str:
    if err.errno == errno.ENOENT and "/" not in program:
        return f'exec: "{program}": executable file not found in $PATH'
    reason = (err.strerror or str(err)).lower()
    return f'exec: "{program}": {reason}'


def run_process(spec: dict[str, Any], out_w: int, err_w: int, exec_w: int) -> NoReturn:
    """The container's process (PID 2): becomes the program, or reports why it cannot."""
    try:
        os.setsid()
        for sig in (*FORWARDED, signal.SIGPIPE, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        devnull = os.open("/dev/null", os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.closerange(3, exec_w)
        os.closerange(exec_w + 1, 1 << 16)
        workdir = spec["working_dir"] or "/"
        os.makedirs(workdir, exist_ok=True)
        os.chdir(workdir)
        uid, gid = spec.get("uid"), spec.get("gid")
        if gid is not None:
            os.setgroups([])
            os.setgid(gid)
        if uid is not None:
            os.setuid(uid)
        argv = spec["argv"]
        if not argv:
            raise OSError(errno.EINVAL, "no command specified")
        os.execvpe(argv[0], argv, spec["env"])
    except OSError as err:
        program = spec["argv"][0] if spec["argv"] else ""
        message = _exec_message(program, err) if spec["argv"] else "no command specified"
        with contextlib.suppress(OSError):
            os.write(exec_w, message.encode())
    os._exit(127)


def run_init(spec: dict[str, Any], out_w: int, err_w: int, exec_w: int, alive_r: int) -> NoReturn:
    """PID 1 of the container's PID namespace."""
    try:
        die_with_parent(signal.SIGKILL)
        # The shim may have died before the line above: then the pipe it holds is closed.
        ready, _, _ = select.select([alive_r], [], [], 0)
        if ready:
            os._exit(137)
        os.close(alive_r)
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
        child = os.fork()
        if child == 0:
            run_process(spec, out_w, err_w, exec_w)
        for fd in (out_w, err_w, exec_w):
            os.close(fd)

        def forward(sig: int, _frame: object) -> None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, sig)

        for sig in FORWARDED:
            signal.signal(sig, forward)
        while True:
            pid, status = os.waitpid(-1, 0)
            if pid == child:
                code = os.waitstatus_to_exitcode(status)
                # Leaving kills whatever is left in the namespace.
                os._exit(code if code >= 0 else 128 - code)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.write(2, f"container init: {err}\n".encode())
        os._exit(126)


# -- the shim: logs and events ----------------------------------------------------------------


class LogWriter:
    """Appends CRI-format lines to the container's log; rotates it to ``<name>.1``."""

    def __init__(self, path: str, max_bytes: int) -> None:
        # A directory fd: the log's directory stays reachable after pivot_root.
        self.dir_fd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
        self.name = os.path.basename(path)
        self.max_bytes = max_bytes
        self.fd = self._open()
        self.size = os.fstat(self.fd).st_size
        self.partial: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}

    def _open(self) -> int:
        return os.open(self.name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640, dir_fd=self.dir_fd)

    def feed(self, stream: str, data: bytes) -> None:
        buffer = self.partial[stream]
        buffer += data
        out = bytearray()
        now = utc_now().encode()
        while True:
            newline = buffer.find(b"\n")
            if newline == -1:
                break
            out += now + b" " + stream.encode() + b" F " + buffer[: newline + 1]
            del buffer[: newline + 1]
        while len(buffer) >= PARTIAL_LINE:
            out += now + b" " + stream.encode() + b" P " + buffer[:PARTIAL_LINE] + b"\n"
            del buffer[:PARTIAL_LINE]
        self._write(bytes(out))

    def close_stream(self, stream: str) -> None:
        buffer = self.partial[stream]
        if buffer:
            self._write(
                utc_now().encode() + b" " + stream.encode() + b" F " + bytes(buffer) + b"\n"
            )
            buffer.clear()

    def _write(self, data: bytes) -> None:
        if not data:
            return
        os.write(self.fd, data)
        self.size += len(data)
        if self.size > self.max_bytes:
            os.close(self.fd)
            os.replace(self.name, self.name + ".1", src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
            self.fd = self._open()
            self.size = 0


class Shim:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.status = os.fdopen(spec.get("status_fd", 3), "w", buffering=1)
        self.child: int | None = None
        self.pending: list[int] = []

    def report(self, event: str, **fields: object) -> None:
        with contextlib.suppress(OSError):
            self.status.write(json.dumps({"event": event, "time": utc_now(), **fields}) + "\n")

    def on_signal(self, sig: int, _frame: object) -> None:
        if self.child is None:
            self.pending.append(sig)
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.child, sig)

    def run(self) -> int:
        spec = self.spec
        die_with_parent(signal.SIGKILL)
        if os.getppid() != spec["agent_pid"]:
            return 137  # the agent died before the line above
        for sig in FORWARDED:
            signal.signal(sig, self.on_signal)
        log = LogWriter(spec["log"], spec.get("log_max_bytes", 10 * 1024 * 1024))
        try:
            _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS), "unshare")
            hostname = spec["hostname"].encode()
            _check(_libc.sethostname(hostname, len(hostname)), "sethostname")
            build_root(spec)
        except OSError as err:
            self.report("failed", reason="CreateContainerError", message=str(err))
            return 128
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        exec_r, exec_w = os.pipe2(os.O_CLOEXEC)
        alive_r, alive_w = os.pipe2(os.O_CLOEXEC)
        child = os.fork()
        if child == 0:
            os.close(alive_w)
            for fd in (out_r, err_r, exec_r):
                os.close(fd)
            run_init(spec, out_w, err_w, exec_w, alive_r)
        self.child = child
        for fd in (out_w, err_w, exec_w, alive_r):
            os.close(fd)
        for pending in self.pending:
            self.on_signal(pending, None)
        failure = _read_all(exec_r)
        if failure:
            _wait(child)
            self.report(
                "failed",
                reason="StartError",
                message=f"failed to start container process: {failure}",
            )
            return 128
        self.report("started", pid=child)
        code = self.pump(log, child, {out_r: "stdout", err_r: "stderr"})
        self.report("exited", exitCode=code)
        return code

    def pump(self, log: LogWriter, child: int, streams: dict[int, str]) -> int:
        """Copy output to the log until the init exits and the pipes drain (bounded)."""
        selector = selectors.DefaultSelector()
        for fd in streams:
            selector.register(fd, selectors.EVENT_READ)
        pidfd = os.pidfd_open(child)
        selector.register(pidfd, selectors.EVENT_READ)
        code: int | None = None
        drain_until = 0.0
        while streams or code is None:
            if code is not None and time.monotonic() > drain_until:
                break
            for key, _ in selector.select(timeout=0.5):
                fd = int(key.fd)
                if fd == pidfd:
                    selector.unregister(pidfd)
                    code = _wait(child)
                    drain_until = time.monotonic() + DRAIN_SECONDS
                    continue
                data = os.read(fd, 65536)
                if data:
                    log.feed(streams[fd], data)
                    continue
                log.close_stream(streams.pop(fd))
                selector.unregister(fd)
                os.close(fd)
        for stream in list(streams.values()):
            log.close_stream(stream)
        return code if code is not None else 137


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def _wait(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text())
    return Shim(spec).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
