"""The cluster's node: containerd + runc, the CNI bridge, the kubelet, kube-proxy and CoreDNS.

All of them run inside the node's network namespace (:mod:`e2e.cluster.network`), as host
processes supervised like the control plane's. Pods are real containers: containerd unpacks
mlkube's OCI images (``make images``, imported here) and runc runs them in cgroups under the
slot's own parent, so requests and limits are real.

Where state lives: the image store of slot ``n`` is kept across clusters in
``<cache>/containerd/<n>`` (so a warm ``make up`` imports nothing); everything else (the
containerd socket and state, the kubelet's root, pod logs, CNI's address leases) lives in the
cluster's state directory and goes with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from e2e.cluster import binaries, network
from e2e.cluster.certs import KeyPair
from e2e.cluster.processes import Service, http_ok, system_env
from e2e.cluster.slots import Slot

NODE_NAME = "mlkube-node"
CLUSTER_DOMAIN = "cluster.local"
CNI_BIN = Path("/usr/lib/cni")
# The sandbox image: mlkube's pause (images/pause), imported under the kubelet's default name.
SANDBOX_IMAGE = "registry.k8s.io/pause:3.10"
# Pulls have nowhere to go: every registry resolves to a closed local port, so an image that was
# not imported fails at once with the real ErrImagePull, and nothing leaves the machine.
NO_REGISTRY = "http://127.0.0.1:9"
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class NodeIdentity:
    """The credentials the node's programs use (issued by the cluster's PKI)."""

    ca: Path
    kubelet_kubeconfig: Path
    kubelet_serving: KeyPair
    proxy_kubeconfig: Path
    coredns_kubeconfig: Path


class Node:
    def __init__(self, state: Path, slot: Slot) -> None:
        self.state = state
        self.slot = slot
        self.containerd_state = state / "containerd"
        self.containerd_root = binaries.cache_dir() / "containerd" / str(slot.n)
        self.socket = self.containerd_state / "containerd.sock"
        self.kubelet_root = state / "kubelet"
        self.cni_conf_dir = state / "cni" / "net.d"
        self.config_dir = state / "node"

    @property
    def netns(self) -> Path:
        return network.netns_path(self.slot)

    # -- the programs ---------------------------------------------------------------------------

    def services(self, identity: NodeIdentity) -> dict[str, Service]:
        """containerd, the kubelet, kube-proxy and CoreDNS, in their start order."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        return {
            "containerd": self._containerd(),
            "kubelet": self._kubelet(identity),
            "kube-proxy": self._kube_proxy(identity),
            "coredns": self._coredns(identity),
        }

    def _containerd(self) -> Service:
        for directory in (self.containerd_state, self.containerd_root, self.cni_conf_dir):
            directory.mkdir(parents=True, exist_ok=True)
        hosts = self.config_dir / "certs.d" / "_default"
        hosts.mkdir(parents=True, exist_ok=True)
        (hosts / "hosts.toml").write_text(
            f'server = "{NO_REGISTRY}"\n\n'
            f'[host."{NO_REGISTRY}"]\n  capabilities = ["pull", "resolve"]\n'
        )
        self._write_cni_config()
        config = self.config_dir / "containerd.toml"
        q = json.dumps  # TOML basic strings take JSON's quoting for these values
        config.write_text(
            f"""version = 2
root = {q(str(self.containerd_root))}
state = {q(str(self.containerd_state / "state"))}
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = {q(str(self.socket))}

[ttrpc]
  address = {q(str(self.socket) + ".ttrpc")}

[plugins."io.containerd.internal.v1.opt"]
  path = {q(str(self.containerd_root / "opt"))}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = {q(SANDBOX_IMAGE)}
  # Without CAP_SYS_RESOURCE here the kubelet's negative oom_score_adj values fail in runc.
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = {q(str(CNI_BIN))}
    conf_dir = {q(str(self.cni_conf_dir))}
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = {q(str(self.config_dir / "certs.d"))}
"""
        )
        return Service(
            "containerd",
            ["/usr/bin/containerd", f"--config={config}", "--log-level=warn"],
            lambda: _socket_answers(self.socket),
            netns=self.netns,
            start_timeout=60,
        )

    def _write_cni_config(self) -> None:
        conflist = {
            "cniVersion": "0.4.0",
            "name": f"mlkube-{self.slot.n}",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": "cni0",
                    "isGateway": True,
                    "hairpinMode": True,
                    "ipMasq": False,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": self.slot.pod_cidr}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(self.state / "cni" / "ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
                {"type": "loopback"},
            ],
        }
        (self.cni_conf_dir / "10-mlkube.conflist").write_text(json.dumps(conflist, indent=2))

    def _kubelet(self, identity: NodeIdentity) -> Service:
        self.kubelet_root.mkdir(parents=True, exist_ok=True)
        self.make_cgroups()
        config: dict[str, Any] = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": self.slot.node_ip,
            "port": 10250,
            "readOnlyPort": 0,
            "healthzBindAddress": self.slot.node_ip,
            "healthzPort": 10248,
            "tlsCertFile": str(identity.kubelet_serving.cert),
            "tlsPrivateKeyFile": str(identity.kubelet_serving.key),
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(identity.ca)},
            },
            "authorization": {"mode": "Webhook"},
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": self.slot.cgroup_parent,
            "cgroupsPerQOS": True,
            "failSwapOn": False,
            "oomScoreAdj": 0,
            "clusterDomain": CLUSTER_DOMAIN,
            "clusterDNS": [self.slot.dns_ip],
            "podCIDR": self.slot.pod_cidr,
            "podLogsDir": str(self.kubelet_root / "pod-logs"),
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            "serializeImagePulls": False,
            # Images cannot be pulled again here: never collect them, and never evict for a
            # machine whose disk is shared with everything else.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
            },
            "resolvConf": "/etc/resolv.conf",
            "staticPodPath": "",
            "shutdownGracePeriod": "0s",
            "nodeStatusReportFrequency": "10s",
            "volumeStatsAggPeriod": "0s",
        }
        path = self.config_dir / "kubelet.yaml"
        path.write_text(yaml.safe_dump(config))
        return Service(
            "kubelet",
            [
                str(binaries.binary("kubelet")),
                f"--config={path}",
                f"--kubeconfig={identity.kubelet_kubeconfig}",
                f"--root-dir={self.kubelet_root}",
                f"--node-ip={self.slot.node_ip}",
                f"--hostname-override={NODE_NAME}",
                "--v=1",
            ],
            http_ok(f"http://{self.slot.node_ip}:10248/healthz"),
            netns=self.netns,
            start_timeout=90,
        )

    def _kube_proxy(self, identity: NodeIdentity) -> Service:
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(identity.proxy_kubeconfig)},
            "mode": "iptables",
            "clusterCIDR": self.slot.pod_cidr,
            "hostnameOverride": NODE_NAME,
            "healthzBindAddress": f"{self.slot.node_ip}:10256",
            "metricsBindAddress": "127.0.0.1:10249",
            "nodePortAddresses": [self.slot.link_cidr],
            # conntrack sysctls are not writable here; leave them as they are.
            "conntrack": {
                "maxPerCore": 0,
                "min": 0,
                "tcpEstablishedTimeout": "0s",
                "tcpCloseWaitTimeout": "0s",
            },
            # A pod calling a Service that lands on a pod of the same bridge gets its reply
            # through the node (without br_netfilter the reply would skip the reverse NAT).
            "iptables": {"masqueradeAll": True},
        }
        path = self.config_dir / "kube-proxy.yaml"
        path.write_text(yaml.safe_dump(config))
        return Service(
            "kube-proxy",
            [str(binaries.binary("kube-proxy")), f"--config={path}", "--v=1"],
            http_ok(f"http://{self.slot.node_ip}:10256/healthz"),
            netns=self.netns,
            start_timeout=60,
        )

    def _coredns(self, identity: NodeIdentity) -> Service:
        corefile = self.config_dir / "Corefile"
        corefile.write_text(
            f""".:53 {{
    bind {self.slot.dns_ip}
    errors
    health {self.slot.dns_ip}:8181
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {identity.coredns_kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }}
    forward . /etc/resolv.conf
    cache 30
}}
"""
        )
        return Service(
            "coredns",
            [str(binaries.binary("coredns")), "-conf", str(corefile)],
            http_ok(f"http://{self.slot.dns_ip}:8181/health"),
            netns=self.netns,
            start_timeout=60,
        )

    # -- images ---------------------------------------------------------------------------------

    def ctr(self, *args: str, timeout: float = 300) -> str:
        result = subprocess.run(
            ["ctr", "--address", str(self.socket), "--namespace", "k8s.io", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=system_env(),
        )
        if result.returncode != 0:
            raise RuntimeError(f"ctr {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def import_images(self, index: Path, progress: Callable[[str], None] = print) -> None:
        """Import every image of ``make images``' index that the store lacks (by content key).

        A store whose snapshots went missing (a containerd killed mid-import leaves its images
        naming layers it no longer has: "parent snapshot ... does not exist") is emptied and
        imported again, once: the store is a cache of the image archives."""
        try:
            self._import_images(index, progress)
        except RuntimeError as err:
            if "snapshot" not in str(err) or "does not exist" not in str(err):
                raise
            progress(f"images: the slot's store lost snapshots ({err}); importing afresh")
            present = self.ctr("images", "list", "--quiet").split()
            if present:
                self.ctr("images", "remove", "--sync", *present, timeout=600)
            (self.containerd_root / "mlkube-imported.json").unlink(missing_ok=True)
            self._import_images(index, progress)

    def _import_images(self, index: Path, progress: Callable[[str], None]) -> None:
        record = self.containerd_root / "mlkube-imported.json"
        imported: dict[str, str] = json.loads(record.read_text()) if record.exists() else {}
        present = set(self.ctr("images", "list", "--quiet").split())
        for image in json.loads(index.read_text())["images"]:
            refs: list[str] = image["refs"]
            if all(imported.get(ref) == image["key"] and ref in present for ref in refs):
                continue
            started = time.monotonic()
            self.ctr("images", "import", image["archive"], timeout=600)
            present = set(self.ctr("images", "list", "--quiet").split())
            missing = [ref for ref in refs if ref not in present]
            if missing:
                raise RuntimeError(f"{image['archive']} did not bring {', '.join(missing)}")
            imported.update(dict.fromkeys(refs, image["key"]))
            record.write_text(json.dumps(imported, indent=1))
            progress(f"image {refs[0]}: imported in {time.monotonic() - started:.1f}s")

    # -- teardown -------------------------------------------------------------------------------

    def remove_pods(self) -> None:
        """Stop and remove every pod sandbox (containers, netns, CNI leases) through the CRI."""
        if not _socket_answers(self.socket):
            return
        crictl = binaries.binary("crictl")
        endpoint = f"unix://{self.socket}"
        subprocess.run(
            [
                str(crictl),
                "--runtime-endpoint",
                endpoint,
                "--timeout",
                "60s",
                "rmp",
                "--all",
                "--force",
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            env=system_env(),
        )

    def shims(self, *, orphans: bool = False) -> list[int]:
        """Pids of this node's containerd shims (they outlive containerd by design); with
        ``orphans``, also every shim whose containerd's socket is gone (a cluster that died)."""
        address = str(self.socket)
        found = []
        for pid, argv in _processes():
            if not (argv and argv[0].endswith("containerd-shim-runc-v2")):
                continue
            theirs = argv[argv.index("-address") + 1] if "-address" in argv[:-1] else ""
            if theirs == address or (orphans and theirs and not Path(theirs).exists()):
                found.append(pid)
        return found

    def kill_leftovers(self) -> None:
        """Kill what outlived containerd: its shims, the shims of clusters that died, anything
        left in the slot's cgroups, and any process still holding the slot's image store (the
        containerd of a ``make up`` that was killed: it keeps the store's database locked, so
        the next containerd of this slot could never open it)."""
        stray = [*self.shims(orphans=True), *self.cgroup_pids(), *_holders(self.containerd_root)]
        for pid in stray:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def make_cgroups(self) -> None:
        """The kubelet's cgroupRoot must exist in every (v1) hierarchy before it starts."""
        parent = self.slot.cgroup_parent.lstrip("/")
        for hierarchy in CGROUP_ROOT.iterdir():
            if hierarchy.name == "unified" or not (hierarchy / "cgroup.procs").exists():
                continue
            top = hierarchy / parent
            top.mkdir(exist_ok=True)
            if hierarchy.name == "cpuset":  # a new cpuset has no CPUs or memory nodes until set
                for key in ("cpuset.cpus", "cpuset.mems"):
                    (top / key).write_text((hierarchy / key).read_text())

    def cgroup_dirs(self) -> list[Path]:
        """Every cgroup directory under the slot's parent, deepest first."""
        found: list[Path] = []
        parent = self.slot.cgroup_parent.lstrip("/")
        for hierarchy in CGROUP_ROOT.iterdir():
            top = hierarchy / parent
            if top.is_dir():
                found.extend(p for p in top.rglob("*") if p.is_dir())
                found.append(top)
        return sorted(found, key=lambda p: len(p.parts), reverse=True)

    def cgroup_pids(self) -> set[int]:
        pids: set[int] = set()
        for directory in self.cgroup_dirs():
            with contextlib.suppress(OSError):
                pids.update(int(p) for p in (directory / "cgroup.procs").read_text().split())
        return pids

    def remove_cgroups(self) -> None:
        for directory in self.cgroup_dirs():
            for _ in range(20):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)

    def mounts(self) -> list[str]:
        return mounts_under(self.state, self.containerd_root)

    def unmount(self) -> None:
        """Unmount whatever is still mounted under the state directory or the image store."""
        for mount in self.mounts():
            subprocess.run(
                ["umount", "-l", mount], capture_output=True, check=False, env=system_env()
            )


def _socket_answers(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(1)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def _processes() -> list[tuple[int, list[str]]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        found.append((int(entry.name), [a.decode(errors="replace") for a in argv if a]))
    return found


def _holders(root: Path) -> list[int]:
    """Pids of the processes with a file open below ``root``."""
    prefix = str(root.resolve()) + "/"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            targets = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
        except OSError:
            continue
        if any(t.startswith(prefix) for t in targets):
            found.append(int(entry.name))
    return found


def mounts_under(*roots: Path) -> list[str]:
    """Mount points below any of ``roots``, deepest first."""
    prefixes = tuple(str(r.resolve()) + "/" for r in roots)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(prefixes):
            points.append(point)
    return sorted(set(points), key=len, reverse=True)
