"""The node agent: wires the pieces together, starts them in order and stops them on SIGTERM."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from e2e.cluster.agent import hostfiles, server
from e2e.cluster.agent.api import Api
from e2e.cluster.agent.endpoints import ServiceEndpoints
from e2e.cluster.agent.events import Recorder
from e2e.cluster.agent.images import ImageTable
from e2e.cluster.agent.informer import Informer
from e2e.cluster.agent.ipam import Ipam
from e2e.cluster.agent.kube import ApiError, Client, ClientConfig
from e2e.cluster.agent.model import EndpointSlice, Node, Pod, Service
from e2e.cluster.agent.node import NodeConfig, NodeRegistration
from e2e.cluster.agent.pods import PodManager
from e2e.cluster.agent.podworker import PodContext
from e2e.cluster.agent.proxy import Network
from e2e.cluster.agent.runtime import Runtime
from e2e.cluster.agent.scheduler import Scheduler
from e2e.cluster.agent.status import TERMINAL
from e2e.cluster.agent.volumes import Volumes

log = logging.getLogger("e2e.cluster.agent")
SYNC_TIMEOUT = 60.0


@dataclass(frozen=True)
class AgentConfig:
    root: Path
    kubeconfig: Path
    node_name: str
    node_ip: str
    pod_cidr: str
    cluster_dns: str
    cluster_domain: str
    port: int
    healthz_port: int
    tls_cert: Path
    tls_key: Path
    client_ca: Path
    kubelet_version: str
    minio: Path | None
    shutdown_grace: float = 5.0


class NodeAgent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        c = config
        c.root.mkdir(parents=True, exist_ok=True)
        self.stopping = threading.Event()
        self._stop_requested = threading.Event()
        client = Client(ClientConfig.from_kubeconfig(c.kubeconfig))
        self.client = client
        self.api = Api(client)
        self.recorder = Recorder(client, c.node_name)
        node_selector = f"spec.nodeName={c.node_name}"
        self.node_pods = Informer(
            client, "/api/v1/pods", Pod, field_selector=node_selector, name="pods"
        )
        self.pending = Informer(
            client,
            "/api/v1/pods",
            Pod,
            field_selector="spec.nodeName=,status.phase!=Succeeded,status.phase!=Failed",
            name="pending pods",
        )
        self.services = Informer(client, "/api/v1/services", Service, name="services")
        self.slices = Informer(
            client, "/apis/discovery.k8s.io/v1/endpointslices", EndpointSlice, name="endpointslices"
        )
        self.node = Informer(
            client,
            "/api/v1/nodes",
            Node,
            field_selector=f"metadata.name={c.node_name}",
            name="node",
        )
        self.informers = (self.node, self.node_pods, self.pending, self.services, self.slices)
        self.images = ImageTable(Path(sys.executable).parent, c.minio)
        self.registration = NodeRegistration(
            client,
            NodeConfig(
                name=c.node_name,
                ip=c.node_ip,
                pod_cidr=c.pod_cidr,
                kubelet_port=c.port,
                root=c.root,
                kubelet_version=c.kubelet_version,
                images=tuple(self.images.known()),
            ),
        )
        self.runtime = Runtime(on_change=self._container_changed)
        self.ctx = PodContext(
            node_name=c.node_name,
            node_ip=c.node_ip,
            root=c.root,
            cluster_dns=c.cluster_dns,
            cluster_domain=c.cluster_domain,
            api=self.api,
            runtime=self.runtime,
            volumes=Volumes(self.api, self._allocatable),
            images=self.images,
            recorder=self.recorder,
            ipam=Ipam(c.pod_cidr),
            services=self.services.list,
            allocatable=self._allocatable,
            host_resolv=hostfiles.HostResolv.parse(_read("/etc/resolv.conf")),
            host_hosts=_read("/etc/hosts"),
            stopping=self.stopping,
        )
        self.pods = PodManager(self.ctx)
        self.node_pods.add_handler(self.pods.on_event)
        self.scheduler = Scheduler(
            api=self.api,
            node_name=c.node_name,
            node=lambda: self.node.get(c.node_name),
            pending=self.pending,
            assigned=lambda: [p for p in self.node_pods.list() if p.status.phase not in TERMINAL],
            recorder=self.recorder,
        )
        # A pod that finishes or goes away frees room for pending ones.
        self.node_pods.add_handler(lambda *_: self.scheduler.wake())
        self.node.add_handler(lambda *_: self.scheduler.wake())
        self.endpoints = ServiceEndpoints(
            self.node_pods.list, self.slices.list, _host_port(client.server)
        )
        self.network = Network(
            self.services.list,
            self.endpoints,
            node_ip=c.node_ip,
            dns_ip=c.cluster_dns,
            domain=c.cluster_domain,
        )
        for source in (self.services, self.slices, self.node_pods):
            source.add_handler(lambda *_: self.network.refresh())
        self.server = server.KubeletServer(
            host=c.node_ip,
            port=c.port,
            healthz_port=c.healthz_port,
            cert=c.tls_cert,
            key=c.tls_key,
            client_ca=c.client_ca,
            api=self.api,
            node_name=c.node_name,
            find_logs=self._find_logs,
            healthy=self._healthy,
            stopping=self.stopping,
        )

    def _container_changed(self, pod_uid: str) -> None:
        self.pods.wake(pod_uid)

    def _allocatable(self) -> dict[str, str]:
        return dict(self.registration.capacity)

    def _healthy(self) -> bool:
        return self.registration.registered.is_set() and all(
            i.synced.is_set() for i in self.informers
        )

    def _find_logs(
        self, namespace: str, name: str, container: str, previous: bool
    ) -> server.LogSource:
        pod = self.node_pods.get(f"{namespace}/{name}")
        worker = self.pods.worker(pod.metadata.uid) if pod else None
        handle = worker.handle_of(container) if worker else None
        return server.find_logs(pod, container, previous, self.ctx.log_path, handle)

    # -- lifecycle ------------------------------------------------------------------------------

    def request_stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received signal %d; stopping", signum)
        self._stop_requested.set()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        try:
            self.network.start()
            self.server.start()
            self._register()
            for informer in self.informers:
                informer.start()
            for informer in self.informers:
                if not informer.synced.wait(SYNC_TIMEOUT):
                    raise RuntimeError(f"{informer.name} did not sync within {SYNC_TIMEOUT:.0f}s")
            self._cleanup_orphans()
            self._ensure_dns_service()
            self.network.refresh()
            self.scheduler.start()
            self.registration.start()
            log.info("node %s ready", self.config.node_name)
            self._stop_requested.wait()
        finally:
            self.shutdown()
        return 0

    def _register(self) -> None:
        deadline = threading.Event()
        timer = threading.Timer(SYNC_TIMEOUT, deadline.set)
        timer.start()
        try:
            while True:
                try:
                    self.registration.register()
                    return
                except ApiError as err:
                    if deadline.is_set() or self._stop_requested.is_set():
                        raise
                    log.warning("registering the node: %s; retrying", err)
                    self._stop_requested.wait(1.0)
        finally:
            timer.cancel()

    def _cleanup_orphans(self) -> None:
        known = {p.metadata.uid for p in self.node_pods.list()}
        known_logs = {self.ctx.log_dir(p).name for p in self.node_pods.list()}
        self.pods.cleanup_orphans(known, known_logs)

    def _ensure_dns_service(self) -> None:
        """Reserve the cluster DNS address as the ``kube-system/kube-dns`` Service, as a cluster's
        DNS add-on does, so no other Service is given it."""
        path = "/api/v1/namespaces/kube-system/services"
        try:
            existing = self.client.get(f"{path}/kube-dns")
        except ApiError as err:
            if err.status != 404:
                log.warning("reading the kube-dns Service: %s", err)
                return
        else:
            ip = existing.get("spec", {}).get("clusterIP")
            if ip != self.config.cluster_dns:
                log.warning(
                    "kube-system/kube-dns has %s, not the cluster DNS %s",
                    ip,
                    self.config.cluster_dns,
                )
            return
        try:
            self.client.create(
                path,
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {
                        "name": "kube-dns",
                        "namespace": "kube-system",
                        "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"},
                        "annotations": {"mlkube.io/served-by": "node-agent"},
                    },
                    "spec": {
                        "clusterIP": self.config.cluster_dns,
                        "ports": [
                            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                        ],
                    },
                },
            )
        except ApiError as err:
            log.warning("reserving the cluster DNS address: %s", err)

    def shutdown(self) -> None:
        """Stop everything; every container is stopped (SIGTERM, then SIGKILL) before returning."""
        self.stopping.set()
        self.scheduler.stop()
        self.registration.stop()
        for informer in self.informers:
            informer.stop()
        self.runtime.shutdown(self.config.shutdown_grace)
        self.network.stop()
        self.server.stop()
        self.recorder.stop()
        log.info("stopped")


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 443


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""
