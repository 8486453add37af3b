"""The loopback address ranges of one local cluster, and how concurrent clusters share 127/8.

Every cluster on a machine shares the loopback interface, and its ClusterIPs, pod IPs and cluster
DNS address are real listening addresses there, so two clusters (two test sessions, a test
session beside ``make up``) must not use the same ones. Each cluster therefore claims a *slot*
``n`` (0..15) and uses:

=================  ===================  =========================================
service CIDR       ``127.10.<16n>.0/20``  ``kubernetes`` Service: ``127.10.<16n>.1``
cluster DNS        ``127.10.<16n>.10``    the ``kube-system/kube-dns`` Service
pod CIDR           ``127.20.<16n>.0/20``  one address per pod
=================  ===================  =========================================

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
class Ranges:
    slot: int

    @property
    def service_cidr(self) -> str:
        return f"127.10.{16 * self.slot}.0/20"

    @property
    def kubernetes_ip(self) -> str:
        return f"127.10.{16 * self.slot}.1"

    @property
    def dns_ip(self) -> str:
        return f"127.10.{16 * self.slot}.10"

    @property
    def pod_cidr(self) -> str:
        return f"127.20.{16 * self.slot}.0/20"


class NoFreeSlot(RuntimeError):
    pass


def _owner(claim: Path) -> Path | None:
    try:
        return Path(json.loads(claim.read_text())["state"])
    except (OSError, ValueError, KeyError):
        return None


def claim(
    registry: Path, state: Path, alive: Callable[[Path], bool], wanted: int | None = None
) -> Ranges:
    """Claim slot ``wanted`` (the one a state directory already uses) or any free one."""
    registry.mkdir(parents=True, exist_ok=True)
    with open(registry / ".lock", "w") as lock:
        # One claimer at a time on this machine; the lock goes with the file's close.
        fcntl.flock(lock, fcntl.LOCK_EX)
        for slot in [wanted] if wanted is not None else range(SLOTS):
            path = registry / f"{slot}.claim"
            owner = _owner(path) if path.exists() else None
            if owner is not None and owner != state:
                # A fresh claim's cluster may not have started a process yet.
                fresh = time.time() - path.stat().st_mtime < FRESH_SECONDS
                if owner.exists() and (fresh or alive(owner)):
                    continue
            path.write_text(json.dumps({"state": str(state)}))
            return Ranges(slot)
    if wanted is not None:
        raise NoFreeSlot(
            f"the network slot {wanted} of {state} is in use by the running cluster "
            f"{_owner(registry / f'{wanted}.claim')}; stop one of them (make down)"
        )
    raise NoFreeSlot(f"all {SLOTS} network slots are in use by running clusters ({registry})")


def release(registry: Path, state: Path, ranges: Ranges) -> None:
    path = registry / f"{ranges.slot}.claim"
    if path.exists() and _owner(path) == state:
        path.unlink(missing_ok=True)
