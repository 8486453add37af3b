"""Pod IPs: one loopback address per pod from the node's pod CIDR (e.g. 127.20.0.0/20).

On Linux the whole 127.0.0.0/8 is local, so a pod that binds its IP is reachable from the host and
from every other pod without any network setup. Pods share the host's network namespace (there is
no per-pod loopback to bridge), so a pod must bind its own IP (``status.podIP`` through the downward
API, e.g. ``--bind $(POD_IP)``) rather than ``0.0.0.0`` when another pod may use the same port.
"""

from __future__ import annotations

import ipaddress
import threading


class Exhausted(RuntimeError):
    pass


class Ipam:
    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.IPv4Network(cidr)
        self._by_pod: dict[str, str] = {}
        self._lock = threading.Lock()
        # Skip the network address and .1 (kept for the node's own use, as a bridge would be).
        self._candidates = [str(ip) for ip in list(self.network.hosts())[1:]]

    def allocate(self, pod_uid: str, preferred: str | None = None) -> str:
        """The pod's IP: its current one, ``preferred`` if free (a pod known before a restart of
        the agent keeps its address), else the lowest free one."""
        with self._lock:
            if pod_uid in self._by_pod:
                return self._by_pod[pod_uid]
            used = set(self._by_pod.values())
            if preferred and preferred in self._candidates and preferred not in used:
                self._by_pod[pod_uid] = preferred
                return preferred
            for ip in self._candidates:
                if ip not in used:
                    self._by_pod[pod_uid] = ip
                    return ip
        raise Exhausted(f"no free pod IP left in {self.network}")

    def release(self, pod_uid: str) -> None:
        with self._lock:
            self._by_pod.pop(pod_uid, None)

    def get(self, pod_uid: str) -> str | None:
        with self._lock:
            return self._by_pod.get(pod_uid)
