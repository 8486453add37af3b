"""The kubelet's HTTPS endpoint (what the API server calls for ``kubectl logs``) and the plain
``/healthz`` endpoint the harness checks.

TLS with a serving certificate of the cluster CA; clients must present a certificate of the same
CA (the API server's ``--kubelet-client-certificate``). As a kubelet with webhook authorization
does, each client is then authorized by a SubjectAccessReview for ``get nodes/proxy`` on this node
(decisions cached: allowed for 5 minutes, denied for 30 seconds).

``GET /containerLogs/{namespace}/{pod}/{container}`` supports ``follow``, ``previous``,
``tailLines``, ``limitBytes``, ``sinceSeconds``, ``sinceTime`` and ``timestamps``. Exec, attach
and port-forward are not served.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from e2e.cluster.agent import logs
from e2e.cluster.agent.api import Api
from e2e.cluster.agent.kube import ApiError
from e2e.cluster.agent.model import Pod
from e2e.cluster.agent.runtime import Handle

log = logging.getLogger(__name__)
FOLLOW_POLL = 0.2
NOT_SERVED = "not served by the mlkube node agent (it serves /containerLogs: kubectl logs)"


@dataclass(frozen=True)
class LogSource:
    """Where a container's logs are and whether more may come."""

    path: Path
    handle: Handle | None  # the running instance, for follow


class LogError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class KubeletServer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        healthz_port: int,
        cert: Path,
        key: Path,
        client_ca: Path,
        api: Api,
        node_name: str,
        find_logs: Callable[[str, str, str, bool], LogSource],
        healthy: Callable[[], bool],
        stopping: threading.Event,
    ) -> None:
        self.api = api
        self.node_name = node_name
        self.find_logs = find_logs
        self.healthy = healthy
        self.stopping = stopping
        self._started = False
        self._decisions: dict[tuple[str, tuple[str, ...]], tuple[bool, float]] = {}
        self._lock = threading.Lock()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        context.load_verify_locations(str(client_ca))
        context.verify_mode = ssl.CERT_REQUIRED
        self.secure = ThreadingHTTPServer((host, port), _handler(self, secure=True))
        self.secure.daemon_threads = True
        # The handshake happens in the request's thread, so a slow client cannot stall accept().
        self.secure.socket = context.wrap_socket(
            self.secure.socket, server_side=True, do_handshake_on_connect=False
        )
        self.plain = ThreadingHTTPServer((host, healthz_port), _handler(self, secure=False))
        self.plain.daemon_threads = True

    def start(self) -> None:
        self._started = True
        for server, name in ((self.secure, "kubelet-api"), (self.plain, "healthz")):
            threading.Thread(target=server.serve_forever, name=name, daemon=True).start()

    def stop(self) -> None:
        for server in (self.secure, self.plain):
            if self._started:
                server.shutdown()  # waits for serve_forever, so only once it runs
            server.server_close()

    def authorized(self, user: str, groups: list[str]) -> bool:
        key = (user, tuple(sorted(groups)))
        now = time.monotonic()
        with self._lock:
            cached = self._decisions.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            allowed = self.api.allowed(user, groups, self.node_name, "proxy")
        except ApiError as err:
            log.warning("authorizing %s: %s", user, err)
            return False
        with self._lock:
            self._decisions[key] = (allowed, now + (300 if allowed else 30))
        return allowed


def _identity(cert: dict[str, Any]) -> tuple[str, list[str]]:
    user, groups = "", []
    for rdn in cert.get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                user = value
            elif name == "organizationName":
                groups.append(value)
    return user, groups


def _int(query: dict[str, list[str]], name: str) -> int | None:
    values = query.get(name)
    if not values or values[0] == "":
        return None
    try:
        return int(values[0])
    except ValueError as err:
        raise LogError(400, f"invalid {name} {values[0]!r}") from err


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return query.get(name, ["false"])[0].lower() in ("true", "1")


def _handler(server: KubeletServer, *, secure: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "mlkube-node-agent"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

        def _reply(self, status: int, text: str, content_type: str = "text/plain") -> None:
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if not secure:
                if url.path == "/healthz":
                    ok = server.healthy()
                    self._reply(200 if ok else 503, "ok" if ok else "not ready")
                else:
                    self._reply(404, "not found")
                return
            assert hasattr(self.connection, "getpeercert")
            user, groups = _identity(self.connection.getpeercert() or {})
            if not server.authorized(user, groups):
                self._reply(
                    403,
                    f"Forbidden (user={user}, verb=get, resource=nodes, subresource=proxy)",
                )
                return
            if url.path == "/healthz":
                self._reply(200, "ok")
            elif url.path.startswith("/containerLogs/"):
                self._logs(url.path, parse_qs(url.query))
            else:
                self._reply(404, f"{url.path}: {NOT_SERVED}")

        def do_POST(self) -> None:
            # exec, attach and port-forward (SPDY/WebSocket upgrades).
            self._reply(501, f"{urlsplit(self.path).path}: {NOT_SERVED}")

        do_PUT = do_DELETE = do_PATCH = do_POST

        def _logs(self, path: str, query: dict[str, list[str]]) -> None:
            parts = [unquote(p) for p in path.split("/")[2:]]
            if len(parts) != 3:
                self._reply(400, "expected /containerLogs/{namespace}/{pod}/{container}")
                return
            namespace, pod, container = parts
            try:
                source = server.find_logs(namespace, pod, container, _flag(query, "previous"))
                tail = _int(query, "tailLines")
                limit = _int(query, "limitBytes")
                since = None
                seconds = _int(query, "sinceSeconds")
                if seconds is not None:
                    since = time.time_ns() - seconds * 1_000_000_000
                elif query.get("sinceTime"):
                    since = logs.to_nanos(query["sinceTime"][0])
            except LogError as err:
                self._reply(err.status, str(err))
                return
            except ValueError as err:
                self._reply(400, str(err))
                return
            timestamps = _flag(query, "timestamps")
            follow = _flag(query, "follow") and source.handle is not None
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            budget = [limit if limit is not None and limit > 0 else None]

            def send(data: bytes) -> bool:
                if budget[0] is not None:
                    data = data[: budget[0]]
                    budget[0] -= len(data)
                if data:
                    self.wfile.write(data)
                    self.wfile.flush()
                return budget[0] is None or budget[0] > 0

            try:
                records = logs.records(source.path)
                chosen = logs.select(records, tail_lines=tail, since_nanos=since)
                if not send(b"".join(logs.render(r, timestamps) for r in chosen)) or not follow:
                    return
                size = source.path.stat().st_size if source.path.exists() else 0
                for chunk in logs.follow_chunks(
                    source.path, size, _until_done(source.handle, server)
                ):
                    if not chunk:
                        time.sleep(FOLLOW_POLL)
                        continue
                    for raw in chunk.splitlines(keepends=True):
                        record = logs.parse(raw)
                        if record is not None and not send(logs.render(record, timestamps)):
                            return
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                return

    return Handler


def _until_done(handle: Handle | None, server: KubeletServer) -> Iterator[bool]:
    """Yields whether following should end once the file is drained (bounded by the
    container's life and the agent's)."""
    while True:
        yield handle is None or handle.done.is_set() or server.stopping.is_set()


def find_logs(
    pod: Pod | None,
    container: str,
    previous: bool,
    log_path: Callable[[Pod, str, int], Path],
    handle: Handle | None,
) -> LogSource:
    """Locate a container's log as the kubelet would, with its error messages."""
    if pod is None:
        raise LogError(404, "pod not found on this node")
    spec = pod.container(container)
    if spec is None:
        raise LogError(400, f"container {container} is not valid for pod {pod.metadata.name}")
    statuses = (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])
    cs = next((s for s in statuses if s.name == container), None)
    count = cs.restart_count if cs is not None else 0
    if handle is not None:
        count = int(handle.config.log_path.stem)
    if previous:
        path = log_path(pod, container, count - 1)
        if count == 0 or not path.exists():
            raise LogError(
                400,
                f'previous terminated container "{container}" in pod '
                f'"{pod.metadata.name}" not found',
            )
        return LogSource(path, None)
    path = log_path(pod, container, count)
    if not path.exists():
        waiting = cs.state.waiting if cs is not None else None
        reason = waiting.reason if waiting is not None else "ContainerCreating"
        raise LogError(
            400,
            f'container "{container}" in pod "{pod.metadata.name}" is waiting to start: {reason}',
        )
    return LogSource(path, handle)
