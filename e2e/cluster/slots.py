"""The addresses of one local cluster, and how clusters side by side on one machine share them.

Every cluster on a machine (``make up``, a test session, ``make demo`` inside a test) claims a
*slot* ``n`` (0..15) and uses only its own addresses and names, so none of them collide:

=================  ======================  ================================================
node network       ``10.245.<n>.0/24``      host end ``.1`` (API server, MinIO, host-run
                                            mlkube), node end ``.2`` (kubelet, CoreDNS)
pod CIDR           ``10.244.<n>.0/24``      the bridge ``cni0`` inside the node's netns
service CIDR       ``10.96.<n>.0/24``       ``kubernetes`` Service: ``10.96.<n>.1``
netns / veth       ``mlkube-<n>``/``mlkube<n>``  the node's network namespace, its host link
nft table          ``ip mlkube_<n>``        the pods' way out (masquerade) to the registries
cgroup parent      ``/mlkube-<n>``          the kubelet's ``cgroupRoot``
=================  ======================  ================================================

Both the pod and the Service CIDR are routed to the node's link, so no packet for a pod or
Service address leaves the machine by its default route.

A claim is a file ``<cache>/network-slots/<n>.claim`` naming the cluster's state directory,
written under a machine-wide lock. A claim is stale, and taken over, once its state directory is
gone, or once it is five minutes old and its cluster has no live process.
"""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SLOTS = 16
FRESH_SECONDS = 300.0


@dataclass(frozen=True)
class Slot:
    n: int

    @property
    def host_ip(self) -> str:
        return f"10.245.{self.n}.1"

    @property
    def node_ip(self) -> str:
        return f"10.245.{self.n}.2"

    @property
    def link_cidr(self) -> str:
        return f"10.245.{self.n}.0/24"

    @property
    def pod_cidr(self) -> str:
        return f"10.244.{self.n}.0/24"

    @property
    def pod_gateway(self) -> str:
        return f"10.244.{self.n}.1"

    @property
    def service_cidr(self) -> str:
        return f"10.96.{self.n}.0/24"

    @property
    def kubernetes_ip(self) -> str:
        return f"10.96.{self.n}.1"

    @property
    def dns_ip(self) -> str:
        """CoreDNS answers on the node's address (pods reach it through their gateway)."""
        return self.node_ip

    @property
    def netns(self) -> str:
        return f"mlkube-{self.n}"

    @property
    def host_link(self) -> str:
        return f"mlkube{self.n}"

    @property
    def nft_table(self) -> str:
        return f"mlkube_{self.n}"

    @property
    def cgroup_parent(self) -> str:
        return f"/mlkube-{self.n}"


class NoFreeSlot(RuntimeError):
    pass


def _owner(claim: Path) -> Path | None:
    try:
        return Path(json.loads(claim.read_text())["state"])
    except (OSError, ValueError, KeyError):
        return None


def owners(registry: Path) -> dict[int, Path]:
    """Slot -> state directory of every claim on this machine."""
    found = {}
    for path in registry.glob("*.claim"):
        owner = _owner(path)
        if owner is not None and path.stem.isdigit():
            found[int(path.stem)] = owner
    return found


def claim(
    registry: Path, state: Path, alive: Callable[[Path], bool], wanted: int | None = None
) -> Slot:
    """Claim slot ``wanted`` (the one a state directory already uses) or any free one."""
    registry.mkdir(parents=True, exist_ok=True)
    with open(registry / ".lock", "w") as lock:
        # One claimer at a time on this machine; the lock goes with the file's close.
        fcntl.flock(lock, fcntl.LOCK_EX)
        for n in [wanted] if wanted is not None else range(SLOTS):
            path = registry / f"{n}.claim"
            owner = _owner(path) if path.exists() else None
            if owner is not None and owner != state:
                # A fresh claim's cluster may not have started a process yet.
                fresh = time.time() - path.stat().st_mtime < FRESH_SECONDS
                if owner.exists() and (fresh or alive(owner)):
                    continue
            path.write_text(json.dumps({"state": str(state)}))
            return Slot(n)
    if wanted is not None:
        raise NoFreeSlot(
            f"the network slot {wanted} of {state} is in use by the running cluster "
            f"{_owner(registry / f'{wanted}.claim')}; stop one of them (make down)"
        )
    raise NoFreeSlot(f"all {SLOTS} network slots are in use by running clusters ({registry})")


def release(registry: Path, state: Path, slot: Slot) -> None:
    path = registry / f"{slot.n}.claim"
    if path.exists() and _owner(path) == state:
        path.unlink(missing_ok=True)
