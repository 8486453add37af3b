"""The Node object: registered with the machine's capacity, kept Ready.

Like a kubelet, the agent renews its Lease in ``kube-node-lease`` every 10 s (the node lifecycle
controller's health signal, 40 s duration) and posts the Node's status (conditions with heartbeat
times, addresses, the kubelet endpoint the API server calls for logs) every minute, or at once
after a failure. Capacity is the machine's: CPUs, memory, 110 pods, the state directory's disk.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from e2e.cluster.agent.kube import JSON, ApiError, Client

log = logging.getLogger(__name__)
LEASE_SECONDS = 40
RENEW_SECONDS = 10.0
STATUS_SECONDS = 60.0


@dataclass(frozen=True)
class NodeConfig:
    name: str
    ip: str
    pod_cidr: str
    kubelet_port: int
    root: Path
    kubelet_version: str
    images: tuple[str, ...] = ()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _micro_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() % 1 * 1e6):06d}Z"


def capacity(root: Path) -> dict[str, str]:
    memory_kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    disk = shutil.disk_usage(root).total
    return {
        "cpu": str(os.cpu_count() or 1),
        "memory": f"{memory_kib}Ki",
        "pods": "110",
        "ephemeral-storage": f"{disk // 1024}Ki",
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


class NodeRegistration:
    def __init__(self, client: Client, config: NodeConfig) -> None:
        self.client = client
        self.config = config
        self.capacity = capacity(config.root)
        self.registered = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="node", daemon=True)
        self._boot_id = _read("/proc/sys/kernel/random/boot_id") or str(uuid.uuid4())

    @property
    def path(self) -> str:
        return f"/api/v1/nodes/{quote(self.config.name)}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def register(self) -> None:
        """Create the Node (or adopt the existing one) and post its status."""
        c = self.config
        labels = {
            "kubernetes.io/hostname": c.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": {"x86_64": "amd64", "aarch64": "arm64"}.get(
                platform.machine(), platform.machine()
            ),
            "node.kubernetes.io/instance-type": "mlkube-local",
        }
        try:
            self.client.create(
                "/api/v1/nodes",
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": c.name, "labels": labels},
                    "spec": {"podCIDR": c.pod_cidr, "podCIDRs": [c.pod_cidr]},
                },
            )
        except ApiError as err:
            if err.status != 409:
                raise
            self.client.strategic_patch(self.path, {"metadata": {"labels": labels}})
        self.post_status()
        self.renew_lease()
        self.registered.set()

    def post_status(self) -> None:
        c = self.config
        now = _now()
        conditions = [
            ("MemoryPressure", "False", "KubeletHasSufficientMemory",
             "kubelet has sufficient memory available"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID",
             "kubelet has sufficient PID available"),
            ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ]  # fmt: skip
        status: JSON = {
            "conditions": [
                {
                    "type": kind,
                    "status": value,
                    "reason": reason,
                    "message": message,
                    "lastHeartbeatTime": now,
                }
                for kind, value, reason, message in conditions
            ],
            "addresses": [
                {"type": "InternalIP", "address": c.ip},
                {"type": "Hostname", "address": c.name},
            ],
            "capacity": self.capacity,
            "allocatable": self.capacity,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": c.kubelet_port}},
            "nodeInfo": {
                "machineID": _read("/etc/machine-id") or self._boot_id.replace("-", ""),
                "systemUUID": self._boot_id,
                "bootID": self._boot_id,
                "kernelVersion": platform.release(),
                "osImage": _os_image(),
                "containerRuntimeVersion": "mlkube-local://0.1.0",
                "kubeletVersion": c.kubelet_version,
                "kubeProxyVersion": c.kubelet_version,
                "operatingSystem": "linux",
                "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(
                    platform.machine(), platform.machine()
                ),
            },
            "images": [{"names": [name], "sizeBytes": 0} for name in c.images],
        }
        current = self.client.get(self.path)
        # Keep each condition's transition time unless its status changes.
        before = {cond["type"]: cond for cond in current.get("status", {}).get("conditions") or []}
        for condition in status["conditions"]:
            old = before.get(condition["type"])
            same = old is not None and old.get("status") == condition["status"]
            condition["lastTransitionTime"] = (
                old.get("lastTransitionTime", now) if same and old else now
            )
        self.client.strategic_patch(self.path + "/status", {"status": status})

    def renew_lease(self) -> None:
        c = self.config
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{quote(c.name)}"
        spec = {
            "holderIdentity": c.name,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": _micro_now(),
        }
        try:
            self.client.merge_patch(path, {"spec": spec})
        except ApiError as err:
            if err.status != 404:
                raise
            node = self.client.get(self.path)
            self.client.create(
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {
                        "name": c.name,
                        "namespace": "kube-node-lease",
                        "ownerReferences": [
                            {
                                "apiVersion": "v1",
                                "kind": "Node",
                                "name": c.name,
                                "uid": node["metadata"]["uid"],
                            }
                        ],
                    },
                    "spec": spec,
                },
            )

    def _run(self) -> None:
        backoff = 1.0
        while not self.registered.is_set() and not self._stop.is_set():
            try:
                self.register()
            except ApiError as err:
                log.warning("registering the node: %s; retrying in %.0fs", err, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        next_status = time.monotonic() + STATUS_SECONDS
        while not self._stop.wait(RENEW_SECONDS):
            try:
                self.renew_lease()
                if time.monotonic() >= next_status:
                    self.post_status()
                    next_status = time.monotonic() + STATUS_SECONDS
            except ApiError as err:
                log.warning("node heartbeat: %s", err)
                next_status = time.monotonic()


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "Linux"
