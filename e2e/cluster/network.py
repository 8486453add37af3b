"""The node's network: its own network namespace, linked to the host, with routes and a way out.

The kubelet, containerd (so the CNI bridge and every pod's veth), kube-proxy and CoreDNS run in
the namespace ``mlkube-<n>``; the host reaches it over the veth pair ``mlkube<n>`` <-> ``eth0``.
kube-proxy's iptables rules therefore live in that namespace only (two clusters never overwrite
each other's chains) and deleting the namespace removes the bridge, every veth and every rule.

On the host side there are only: the veth's host end (with routes to the pod and Service CIDRs,
which go away with it), one nft table that masquerades the pods' traffic to the package
registries, and ``net.ipv4.ip_forward`` (recorded before the first cluster sets it, restored
after the last one stops, see :mod:`e2e.cluster.sysctls`).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from e2e.cluster.processes import system_env
from e2e.cluster.slots import Slot

NETNS_DIR = Path("/run/netns")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run(["ip", *args], check=check)


def _run(
    argv: Sequence[str], *, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(argv),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=system_env(),
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` failed: {result.stderr.strip()}")
    return result


def netns_path(slot: Slot) -> Path:
    return NETNS_DIR / slot.netns


def exists(slot: Slot) -> bool:
    return netns_path(slot).exists()


def in_netns(slot: Slot, *argv: str) -> list[str]:
    """``argv`` run inside the node's network namespace only (mounts stay the host's)."""
    return ["nsenter", f"--net={netns_path(slot)}", *argv]


def create(slot: Slot) -> None:
    """Make the node's namespace, its link to the host, the routes and the way out."""
    if exists(slot):
        delete(slot)  # left by a cluster that died: start clean
    _ip("netns", "add", slot.netns)
    ns = ("-n", slot.netns)
    _ip("link", "add", slot.host_link, "type", "veth", "peer", "name", "eth0", "netns", slot.netns)
    _ip("addr", "add", f"{slot.host_ip}/24", "dev", slot.host_link)
    _ip("link", "set", slot.host_link, "up")
    _ip(*ns, "link", "set", "lo", "up")
    _ip(*ns, "addr", "add", f"{slot.node_ip}/24", "dev", "eth0")
    _ip(*ns, "link", "set", "eth0", "up")
    _ip(*ns, "route", "add", "default", "via", slot.host_ip)
    # Pods and Services are reached through the node; nothing for them takes the default route.
    _ip("route", "add", slot.pod_cidr, "via", slot.node_ip, "dev", slot.host_link)
    _ip("route", "add", slot.service_cidr, "via", slot.node_ip, "dev", slot.host_link)
    _run(in_netns(slot, "sysctl", "-qw", "net.ipv4.ip_forward=1"))
    # Pods reach the package registries as this machine does: masqueraded behind its address.
    _run(["nft", "-f", "-"], stdin=_nft_rules(slot))


def _nft_rules(slot: Slot) -> str:
    return f"""
table ip {slot.nft_table} {{
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr {{ {slot.pod_cidr}, {slot.link_cidr} }} oifname != "{slot.host_link}" masquerade
  }}
}}
"""


def delete(slot: Slot) -> None:
    """Remove everything :func:`create` made (safe when some or all of it is gone)."""
    _run(["nft", "delete", "table", "ip", slot.nft_table], check=False)
    _ip("link", "delete", slot.host_link, check=False)
    if exists(slot):
        _ip("netns", "delete", slot.netns, check=False)


def leftovers(slot: Slot) -> list[str]:
    """What of this slot's network still exists (empty once it is gone)."""
    found = []
    if exists(slot):
        found.append(f"network namespace {slot.netns}")
    if _ip("link", "show", slot.host_link, check=False).returncode == 0:
        found.append(f"link {slot.host_link}")
    if _run(["nft", "list", "table", "ip", slot.nft_table], check=False).returncode == 0:
        found.append(f"nft table {slot.nft_table}")
    return found
