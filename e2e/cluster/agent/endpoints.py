"""Service endpoints, computed by the agent from its pods.

The API server refuses loopback addresses in Endpoints and EndpointSlices ("may not be in the
loopback range"), and pod IPs here are loopback addresses, so the cluster cannot store them. The
agent therefore computes each Service's endpoints itself, with the EndpointSlice controller's
rules, from the pods it runs (on a one-node cluster, all of them), and the service proxy and the
cluster DNS serve those. The controllers that would try (and fail) to write them are turned off,
and ``kubectl get endpoints`` shows nothing; Services without a selector still use whatever
EndpointSlices exist. The ``default/kubernetes`` Service's endpoint is the API server itself.

Rules, as the EndpointSlice controller applies them: a pod belongs to a Service when it is in the
Service's namespace, matches its selector, has an IP and has not finished; it is ``ready`` when its
``Ready`` condition is True and it is not being deleted (or when the Service publishes not-ready
addresses), ``serving`` when Ready regardless of deletion; a ``targetPort`` name is looked up in
the pod's container ports; a pod's ``hostname`` counts when its ``subdomain`` is the Service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from e2e.cluster.agent.model import EndpointSlice, Pod, Service, ServicePort


@dataclass(frozen=True)
class Backend:
    ip: str
    port: int
    ready: bool
    serving: bool
    terminating: bool
    hostname: str | None = None


def _pod_ready(pod: Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


def selected(service: Service, pods: list[Pod]) -> list[Pod]:
    selector = service.spec.selector
    if not selector:
        return []
    return [
        pod
        for pod in pods
        if pod.metadata.namespace == service.metadata.namespace
        and pod.status.pod_ip
        and pod.status.phase not in ("Succeeded", "Failed")
        and all(pod.metadata.labels.get(k) == v for k, v in selector.items())
    ]


def target_port(port: ServicePort, pod: Pod) -> int | None:
    target = port.target_port if port.target_port is not None else port.port
    if isinstance(target, int):
        return target
    if target.isdigit():
        return int(target)
    for container in pod.spec.containers:
        for declared in container.ports:
            if declared.name == target and declared.protocol == port.protocol:
                return declared.container_port
    return None


def _backend(service: Service, pod: Pod, port: int) -> Backend:
    terminating = pod.metadata.deletion_timestamp is not None
    ready = _pod_ready(pod)
    publish = service.spec.publish_not_ready_addresses
    hostname = pod.spec.hostname if pod.spec.subdomain == service.metadata.name else None
    assert pod.status.pod_ip is not None
    return Backend(
        ip=pod.status.pod_ip,
        port=port,
        ready=publish or (ready and not terminating),
        serving=publish or ready,
        terminating=terminating,
        hostname=hostname or None,
    )


def _from_slices(service: Service, port_name: str, slices: list[EndpointSlice]) -> list[Backend]:
    out = []
    for piece in slices:
        meta = piece.metadata
        if (
            meta.namespace != service.metadata.namespace
            or piece.service_name != service.metadata.name
        ):
            continue
        if piece.address_type != "IPv4":
            continue
        numbers = [p.port for p in piece.ports or [] if (p.name or "") == port_name and p.port]
        for endpoint in piece.endpoints or []:
            c = endpoint.conditions
            for address in endpoint.addresses:
                out.append(
                    Backend(
                        ip=address,
                        port=numbers[0] if numbers else 0,
                        ready=c.ready is not False,
                        serving=c.serving is not False
                        if c.serving is not None
                        else c.ready is not False,
                        terminating=bool(c.terminating),
                        hostname=endpoint.hostname,
                    )
                )
    return out


class ServiceEndpoints:
    """Endpoints of every Service, from the agent's caches."""

    def __init__(
        self,
        pods: Callable[[], list[Pod]],
        slices: Callable[[], list[EndpointSlice]],
        apiserver: tuple[str, int],
    ) -> None:
        self.pods = pods
        self.slices = slices
        self.apiserver = apiserver

    def of_port(self, service: Service, port: ServicePort) -> list[Backend]:
        meta = service.metadata
        if meta.namespace == "default" and meta.name == "kubernetes":
            host, api_port = self.apiserver
            return [Backend(host, api_port, ready=True, serving=True, terminating=False)]
        if not service.spec.selector:
            return [b for b in _from_slices(service, port.name, self.slices()) if b.port]
        out = []
        for pod in selected(service, self.pods()):
            number = target_port(port, pod)
            if number is not None:
                out.append(_backend(service, pod, number))
        return out

    def of_service(self, service: Service) -> list[Backend]:
        """Every endpoint of ``service`` whatever the port (a headless Service's DNS records)."""
        if not service.spec.selector:
            return _from_slices(service, "", self.slices())
        return [_backend(service, pod, 0) for pod in selected(service, self.pods())]


def usable(backends: list[Backend]) -> list[Backend]:
    """The endpoints to send traffic to: the ready ones, else the serving terminating ones
    (kube-proxy's fallback)."""
    ready = [b for b in backends if b.ready]
    return ready or [b for b in backends if b.serving and b.terminating]
