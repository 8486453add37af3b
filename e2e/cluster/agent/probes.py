"""Probes (liveness, readiness, startup) and lifecycle hooks, run as the kubelet runs them.

``httpGet`` and ``tcpSocket`` go to the pod's IP (or the given host); ``exec`` runs the command
inside the container with ``nsenter`` into its mount, PID and UTS namespaces, with the container's
environment and user. A probe thread per probe keeps the kubelet's counting: the result flips after
``successThreshold`` successes or ``failureThreshold`` failures, every ``periodSeconds``, after
``initialDelaySeconds``; readiness starts as failure, liveness as success, and liveness and
readiness wait for the startup probe to succeed. gRPC probes are not supported (always fail, saying
so).
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import signal
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass

from e2e.cluster.agent.model import Container, Handler, Probe

log = logging.getLogger(__name__)
USER_AGENT = "kube-probe/1.32"
_OUTPUT_LIMIT = 10 * 1024


@dataclass(frozen=True)
class Target:
    """Where a container's probes and hooks run."""

    pod_ip: str
    container: Container
    pid: int
    env: dict[str, str]
    working_dir: str
    uid: int | None = None
    gid: int | None = None


@dataclass(frozen=True)
class Result:
    success: bool
    message: str = ""


def _port(port: int | str, container: Container) -> int:
    if isinstance(port, int):
        return port
    if port.isdigit():
        return int(port)
    for declared in container.ports:
        if declared.name == port:
            return declared.container_port
    raise ValueError(f"port {port!r} is not a named port of container {container.name!r}")


def exec_in(target: Target, argv: list[str], timeout: float) -> tuple[int | None, str]:
    """Run ``argv`` inside the container; (exit code or None on timeout, combined output)."""
    command = [
        "nsenter",
        "-t",
        str(target.pid),
        "-m",
        "-p",
        "-u",
        f"--wd={target.working_dir or '/'}",
    ]
    if target.gid is not None:
        command.append(f"--setgid={target.gid}")
    if target.uid is not None:
        command.append(f"--setuid={target.uid}")
    process = subprocess.Popen(
        [*command, "--", *argv],
        env=target.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=10)
        return None, ""
    return process.returncode, out[-_OUTPUT_LIMIT:].decode(errors="replace")


def run(handler: Handler, target: Target, timeout: float) -> Result:
    """One probe or hook action."""
    try:
        if handler.exec_ is not None:
            code, output = exec_in(target, handler.exec_.command, timeout)
            if code is None:
                return Result(False, f'command "{" ".join(handler.exec_.command)}" timed out')
            return Result(code == 0, output.strip())
        if handler.http_get is not None:
            return _http(handler, target, timeout)
        if handler.tcp_socket is not None:
            host = handler.tcp_socket.host or target.pod_ip
            port = _port(handler.tcp_socket.port, target.container)
            try:
                with socket.create_connection((host, port), timeout=timeout):
                    return Result(True)
            except OSError as err:
                return Result(False, f"dial tcp {host}:{port}: {_reason(err)}")
        if handler.grpc is not None:
            return Result(False, "gRPC probes are not supported by the mlkube node agent")
        if handler.sleep is not None:
            threading.Event().wait(min(handler.sleep.seconds, timeout))
            return Result(True)
    except ValueError as err:
        return Result(False, str(err))
    return Result(False, "the probe sets no action")


def _reason(err: OSError) -> str:
    if isinstance(err, ConnectionRefusedError):
        return "connect: connection refused"
    if isinstance(err, TimeoutError | socket.timeout):
        return "i/o timeout"
    return str(err)


def _http(handler: Handler, target: Target, timeout: float) -> Result:
    action = handler.http_get
    assert action is not None
    host = action.host or target.pod_ip
    port = _port(action.port, target.container)
    path = action.path if action.path.startswith("/") else "/" + action.path
    scheme = action.scheme.lower()
    url = f"{scheme}://{host}:{port}{path}"
    connection: http.client.HTTPConnection
    if scheme == "https":
        # The kubelet does not verify probe certificates.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
    headers.update({h.name: h.value for h in action.http_headers})
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read(_OUTPUT_LIMIT)
    except OSError as err:
        return Result(False, f'Get "{url}": {_reason(err)}')
    finally:
        connection.close()
    if 200 <= response.status < 400:
        return Result(True)
    return Result(
        False,
        f"HTTP probe failed with statuscode: {response.status}"
        + (f" {body.decode(errors='replace')[:200]}" if body else ""),
    )


class Prober:
    """Runs one probe of one container instance on its own thread.

    ``state`` is "success", "failure" or "unknown" (startup before its first verdict); it changes
    after ``successThreshold`` successes or ``failureThreshold`` failures in a row, and
    ``on_change`` is called then. A liveness or startup probe stops at "failure" (the container
    is restarted), a startup probe also at "success".
    """

    def __init__(
        self,
        kind: str,
        probe: Probe,
        target: Target,
        *,
        on_change: Callable[[], None],
        on_failure: Callable[[str, str], None],
        gate: threading.Event | None = None,
    ) -> None:
        self.kind = kind
        self.probe = probe
        self.target = target
        self.on_change = on_change
        self.on_failure = on_failure
        self.gate = gate
        self.state = {"liveness": "success", "readiness": "failure"}.get(kind, "unknown")
        self.succeeded = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"probe {kind} {target.container.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _set(self, state: str) -> None:
        if state != self.state:
            self.state = state
            if state == "success":
                self.succeeded.set()
            self.on_change()

    def _run(self) -> None:
        probe = self.probe
        if self.gate is not None:
            while not self.gate.wait(0.5):
                if self._stop.is_set():
                    return
        if self._stop.wait(probe.initial_delay_seconds):
            return
        successes = failures = 0
        while not self._stop.is_set():
            result = run(probe, self.target, max(probe.timeout_seconds, 1))
            if self._stop.is_set():
                return
            if result.success:
                successes, failures = successes + 1, 0
                if successes >= max(probe.success_threshold, 1):
                    self._set("success")
            else:
                failures, successes = failures + 1, 0
                self.on_failure(self.kind, result.message)
                if failures >= max(probe.failure_threshold, 1):
                    self._set("failure")
            finished = self.kind == "startup" and self.state == "success"
            if finished or (self.kind != "readiness" and self.state == "failure"):
                return
            self._stop.wait(max(probe.period_seconds, 1))
