"""HTTP connections to a Service's pod through the API server's port-forward (``mlkube ui``).

Port-forward carries bytes, so a request reaches the tracking server with the Authorization header
its sender wrote. The API server's ``services/<name>/proxy`` cannot be used instead: the API
server takes the Authorization header as the credential for itself and removes it, so the tracking
server would see no token. Like ``kubectl port-forward svc/NAME``, one ready pod behind the
Service is picked, and the container port its ``targetPort`` names; each connection is a stream of
its own (one websocket), and when the pod refuses one (it may be gone), a pod is picked again.

Rights needed in the Service's namespace: get services, list pods, and create pods/portforward
(and get, for websocket clients such as this one on clusters that authorise the upgrade as get).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import urllib3
import websocket
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import portforward

API_TIMEOUT = 30.0
RIGHTS = "get services, list pods and create pods/portforward"


class ForwardError(RuntimeError):
    """No pod to forward to, or no right to: the message says which and what to do."""


@dataclass(frozen=True)
class Target:
    pod: str
    port: int


def pick(service: dict[str, Any], pods: list[dict[str, Any]]) -> Target:
    """The pod and container port a connection to ``service`` goes to, from the Service and the
    pods its selector matches (as the API serves them): the Service's port named ``http``, else
    its only or first port; the first ready pod by name, not being deleted."""
    name = f"{service['metadata']['namespace']}/{service['metadata']['name']}"
    ports = (service.get("spec") or {}).get("ports") or []
    if not ports:
        raise ForwardError(f"Service {name} has no ports")
    port = next((p for p in ports if p.get("name") == "http"), ports[0])
    target = port.get("targetPort", port["port"])
    ready = sorted((p for p in pods if _ready(p)), key=lambda p: str(p["metadata"]["name"]))
    if not ready:
        raise ForwardError(f"no ready pod behind Service {name}; see kubectl get pods for why")
    pod = ready[0]
    if isinstance(target, int) or str(target).isdigit():
        return Target(pod["metadata"]["name"], int(target))
    for container in pod["spec"]["containers"]:
        for declared in container.get("ports") or []:
            if declared.get("name") == target:
                return Target(pod["metadata"]["name"], int(declared["containerPort"]))
    raise ForwardError(f"pod {pod['metadata']['name']} declares no port named {target!r}")


def _ready(pod: dict[str, Any]) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    conditions = status.get("conditions") or []
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
    )


class _ForwardedConnection(http.client.HTTPConnection):
    """An HTTP connection whose socket is a port-forward stream."""

    def __init__(
        self, host: str, open_stream: Callable[[float | None], Any], timeout: float
    ) -> None:
        super().__init__(host, timeout=timeout)
        self._open_stream = open_stream

    def connect(self) -> None:
        self.sock = self._open_stream(self.timeout)


class ServiceForward:
    """Connections to the pod behind the Service ``service`` in ``namespace``."""

    def __init__(self, configuration: Any, namespace: str, service: str) -> None:
        self.namespace = namespace
        self.service = service
        self.host = f"{service}.{namespace}.svc"
        self.core = k8s.CoreV1Api(k8s.ApiClient(configuration))
        self._lock = threading.Lock()
        self._target: Target | None = None
        # The library opens its websocket with the module's default timeout and no other: without
        # one, an API server that never answers would hold a connection forever.
        websocket.setdefaulttimeout(API_TIMEOUT)

    def target(self) -> Target:
        """The pod and port connections go to (looked up once, and again after a failure)."""
        with self._lock:
            if self._target is None:
                service = self._read_service()
                self._target = pick(service, self._list_pods(service))
            return self._target

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        """A new (not yet connected) HTTP connection to the pod; ``timeout`` bounds each read."""
        return _ForwardedConnection(self.host, self._open, timeout)

    def _open(self, timeout: float | None) -> Any:
        """A port-forward stream to the pod; when the pod known refuses (it may be gone), once
        more to a pod looked up again."""
        try:
            try:
                return self._stream(timeout)
            except ApiException:
                return self._stream(timeout)
        except (ApiException, ForwardError) as err:
            why = err.reason if isinstance(err, ApiException) else str(err)
            raise ConnectionError(
                f"port-forward to Service {self.namespace}/{self.service}: {why}"
            ) from None

    def _stream(self, timeout: float | None) -> Any:
        target = self.target()
        try:
            forward = portforward(
                self.core.connect_get_namespaced_pod_portforward,
                target.pod,
                self.namespace,
                ports=str(target.port),
            )
        except ApiException:
            with self._lock:
                self._target = None
            raise
        stream = forward.socket(target.port)
        stream.settimeout(timeout)
        return stream

    def _read_service(self) -> dict[str, Any]:
        what = f"get Service {self.namespace}/{self.service}"
        found = self._ask(what, self.core.read_namespaced_service, self.service, self.namespace)
        service: dict[str, Any] = self.core.api_client.sanitize_for_serialization(found)
        return service

    def _list_pods(self, service: dict[str, Any]) -> list[dict[str, Any]]:
        selector = (service.get("spec") or {}).get("selector") or {}
        if not selector:
            raise ForwardError(
                f"Service {self.namespace}/{self.service} has no selector: no pod to forward to"
            )
        found = self._ask(
            f"list pods in {self.namespace}",
            self.core.list_namespaced_pod,
            self.namespace,
            label_selector=",".join(f"{k}={v}" for k, v in sorted(selector.items())),
        )
        pods: list[dict[str, Any]] = self.core.api_client.sanitize_for_serialization(found.items)
        return pods

    def _ask(self, what: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``call`` of the API, its failure as a ForwardError saying ``what`` failed and why."""
        try:
            return call(*args, _request_timeout=API_TIMEOUT, **kwargs)
        except ApiException as err:
            raise self._refused(err, what) from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise ForwardError(f"{what}: cannot reach the API server: {err}") from None

    def _refused(self, err: ApiException, what: str) -> ForwardError:
        message = str(err.reason)
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            message = str(json.loads(err.body or "{}").get("message", message))
        if err.status == 403:
            return ForwardError(
                f"{what}: {message}; forwarding to the tracking server needs {RIGHTS} in "
                f"namespace {self.namespace}"
            )
        if err.status == 404:
            return ForwardError(f"{what}: not found; name the release's namespace and Service")
        return ForwardError(f"{what}: {message}")
