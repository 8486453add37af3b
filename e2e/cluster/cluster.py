"""The local cluster: real etcd, kube-apiserver, kube-controller-manager and kube-scheduler, MinIO,
and one real node (containerd, runc, the kubelet, kube-proxy, CoreDNS) running mlkube's OCI images.
It is the test tier's cluster and the product's local mode (`make up`).

The control plane runs as host processes on the host end of the node's link (see
:mod:`e2e.cluster.slots` for the addresses and :mod:`e2e.cluster.network` for the link); the node's
programs run inside the node's network namespace (:mod:`e2e.cluster.node`).
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from e2e.cluster import binaries, network, slots, sysctls
from e2e.cluster.certs import PKI, KeyPair
from e2e.cluster.node import NODE_NAME, Node, NodeIdentity
from e2e.cluster.processes import Service, Supervisor, http_ok, running_in
from e2e.cluster.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
# Start order; stopped in reverse (the node's pods are removed first, see stop()).
CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
NODE = ("containerd", "kubelet", "kube-proxy", "coredns")
ORDER = (*CONTROL_PLANE, *NODE, "minio")
# Which cluster uses which slot (addresses, names, cgroup parent), machine-wide.
NETWORK_SLOTS = binaries.cache_dir() / "network-slots"
# Static local PersistentVolumes the node offers through its default StorageClass.
STORAGE_CLASS = "local"
LOCAL_VOLUMES = 8
LOCAL_VOLUME_SIZE = "20Gi"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class S3:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str = "mlkube"


@dataclass(frozen=True)
class Ports:
    etcd: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    minio: int
    minio_console: int

    @classmethod
    def pick(cls, saved: dict[str, int] | None = None) -> Ports:
        """The ``saved`` ports, and fresh ones for any not saved (a state from an older version)."""
        saved = saved or {}
        return cls(**{f.name: saved.get(f.name) or free_port() for f in fields(cls)})


def _progress(message: str) -> None:
    print(f"[cluster] {message}", file=sys.stderr, flush=True)


class LocalCluster:
    """One local cluster whose state (certs, data, logs, pids) lives in ``state``."""

    def __init__(self, state: Path, *, detach: bool = False) -> None:
        self.state = state.resolve()
        self.state.mkdir(parents=True, exist_ok=True)
        self.supervisor = Supervisor(self.state, detach=detach)
        self.pki = PKI(self.state / "pki")
        self.kubeconfig = self.state / "kubeconfig"
        config = self.state / "cluster.json"
        saved = json.loads(config.read_text()) if config.exists() else {}
        self.ports = Ports.pick(saved.get("ports"))
        self.slot = self._claim_slot(saved.get("slot"))
        self.node = Node(self.state, self.slot)
        self.s3 = S3(
            endpoint=f"http://{self.slot.host_ip}:{self.ports.minio}",
            access_key="mlkube",
            secret_key=saved.get("s3", {}).get("secret_key") or os.urandom(12).hex(),
        )
        config.write_text(
            json.dumps({"ports": asdict(self.ports), "s3": asdict(self.s3), "slot": self.slot.n})
        )

    @property
    def server(self) -> str:
        return f"https://{self.slot.host_ip}:{self.ports.apiserver}"

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start whatever is not running yet: the node's network, the control plane, the node
        (with mlkube's images imported), MinIO; then the CRDs, storage and the bucket."""
        started = time.monotonic()
        self.slot = self._claim_slot(self.slot.n)  # again, if stop() released it
        running = self.supervisor.running()
        if not running:
            # Whatever a cluster that died in this slot left behind goes first.
            self.node.kill_leftovers()
            self.node.remove_cgroups()
            sysctls.record(NETWORK_SLOTS)
            network.create(self.slot)
            sysctls.write({"net.ipv4.ip_forward": "1"})
        self._write_kubeconfig()
        services = self._services()
        for name in ORDER:
            if name in running:
                _progress(f"{name}: already running (pid {running[name]})")
            else:
                _progress(f"{name}: starting")
                self.supervisor.start(services[name])
            if name == "containerd":
                # Before the kubelet: it needs the pause image. Only changed images import.
                self._import_images()
        self.apply_crds()
        self._wait_node_ready()
        self._ensure_storage()
        self._ensure_bucket()
        _progress(f"ready in {time.monotonic() - started:.1f}s; KUBECONFIG={self.kubeconfig}")

    def stop(self) -> None:
        """Stop everything and leave nothing behind: no process, container, mount, network
        namespace, link, nft rule, cgroup or changed sysctl (the last cluster restores them)."""
        self.supervisor.stop(["kubelet"])
        self.node.remove_pods()
        self.supervisor.stop([n for n in reversed(ORDER) if n != "kubelet"])
        self.node.kill_leftovers()
        network.delete(self.slot)
        self.node.unmount()
        self.node.remove_cgroups()
        slots.release(NETWORK_SLOTS, self.state, self.slot)
        if not slots.owners(NETWORK_SLOTS):
            sysctls.restore(NETWORK_SLOTS)

    def running(self) -> dict[str, int]:
        return self.supervisor.running()

    def service(self, name: str) -> Service:
        """How one of the host's processes (the control plane, MinIO) is started: to start it
        again after a fault test stopped it."""
        return self._services(node=False)[name]

    def leftovers(self) -> list[str]:
        """What of this cluster still exists on the machine (empty after :meth:`stop`)."""
        found = [f"process {name} ({pid})" for name, pid in self.running().items()]
        found += network.leftovers(self.slot)
        found += [f"mount {m}" for m in self.node.mounts()]
        found += [f"cgroup {d}" for d in self.node.cgroup_dirs()]
        found += [f"process {pid} in the node's cgroups" for pid in self.node.cgroup_pids()]
        found += [f"containerd shim {pid}" for pid in self.node.shims()]
        return found

    # -- what clients need ----------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The environment a client process needs to reach this cluster and its object store."""
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "MLKUBE_S3_ENDPOINT": self.s3.endpoint,
            "MLKUBE_S3_ACCESS_KEY": self.s3.access_key,
            "MLKUBE_S3_SECRET_KEY": self.s3.secret_key,
            "MLKUBE_S3_BUCKET": self.s3.bucket,
        }

    def write_env_file(self, path: Path, extra: dict[str, str] | None = None) -> None:
        values = {**self.env(), **(extra or {})}
        lines = [f"export {k}={shlex.quote(v)}" for k, v in values.items()]
        lines.append(f'export PATH={shlex.quote(str(self.bin_dir))}:"$PATH"')
        path.write_text("\n".join(lines) + "\n")

    @property
    def bin_dir(self) -> Path:
        """A directory of unversioned links (helm, etcd, ...) to the cached binaries."""
        links = self.state / "bin"
        links.mkdir(exist_ok=True)
        for component in binaries.COMPONENTS:
            for program in component.programs:
                link = links / program
                if not link.exists():
                    link.symlink_to(component.path(program))
        return links

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        """Run kubectl against this cluster and return its stdout; raise with stderr on failure."""
        result = subprocess.run(
            ["kubectl", "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, result.args, result.stdout, result.stderr
            )
        return result.stdout

    def mlkube(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 700,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the `mlkube` command against this cluster (``env`` adds to :meth:`env`), as a
        user's shell would, and return what it did; the caller checks the outcome. With the
        host platform started, MLFLOW_TRACKING_URI names its tracking server (`mlkube run`
        uploads projects through it)."""
        return subprocess.run(
            self.mlkube_command(*args),
            env=self.mlkube_env(env),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def mlkube_command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "mlkube.cli", *args]

    def mlkube_env(self, env: dict[str, str] | None = None) -> dict[str, str]:
        """The environment :meth:`mlkube` runs the command in."""
        record = self.state / "tracking-uri"
        tracking = {"MLFLOW_TRACKING_URI": record.read_text().strip()} if record.exists() else {}
        # The session's identity (fixtures.py sets it once the cluster runs), as a shell would
        # have it from `.local/env`.
        if os.environ.get("MLFLOW_TRACKING_TOKEN"):
            tracking["MLFLOW_TRACKING_TOKEN"] = os.environ["MLFLOW_TRACKING_TOKEN"]
        # The mlkube under test: a checkout run with PYTHONPATH=sdk:operator (not the installed
        # one) must run its own CLI, as the operator and server the session starts do.
        if os.environ.get("PYTHONPATH"):
            tracking["PYTHONPATH"] = os.environ["PYTHONPATH"]
        return {
            **self.env(),
            **tracking,
            "PATH": f"{self.bin_dir}:/usr/bin:/bin",
            **(env or {}),
        }

    def get_json(self, namespace: str, *what: str) -> dict[str, Any]:
        """`kubectl get <what> -n <namespace> -o json`, parsed."""
        found: dict[str, Any] = json.loads(
            self.kubectl("get", *what, "-n", namespace, "-o", "json")
        )
        return found

    def apply_objects(self, namespace: str, *objects: dict[str, Any]) -> None:
        """`kubectl apply` of mlkube objects (apiVersion filled in) as one List."""
        items = [{"apiVersion": "mlkube.io/v1alpha1", **o} for o in objects]
        document = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
        self.kubectl("apply", "-n", namespace, "-f", "-", stdin=document)

    def apply_crds(self) -> None:
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(CRDS))

    # -- internals ------------------------------------------------------------------------------

    def _claim_slot(self, wanted: int | None) -> slots.Slot:
        """This cluster's slot (addresses, names), exclusive on this machine while it runs."""
        return slots.claim(NETWORK_SLOTS, self.state, lambda o: bool(running_in(o)), wanted)

    def _import_images(self) -> None:
        """Build (cached by content) and import mlkube's images into the node's containerd."""
        from images.build import build_all

        index = build_all(quiet=True)
        self.node.import_images(index, progress=_progress)

    def _wait_node_ready(self, timeout: float = 120) -> None:
        def ready() -> bool:
            status = self.kubectl(
                "get",
                "node",
                NODE_NAME,
                "-o",
                "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
                check=False,
            )
            return status.strip() == "True"

        try:
            eventually(ready, timeout=timeout, what=f"node {NODE_NAME} to be Ready", every=0.5)
        except TimeoutError as err:
            kubelet = self.supervisor.tail(self.supervisor.log_path("kubelet"))
            raise RuntimeError(f"{err}; the kubelet's log ends:\n{kubelet}") from err

    def _ensure_storage(self) -> None:
        """A default StorageClass backed by static local volumes on the node (issue 11 item 4)."""
        volumes = self.state / "volumes"
        objects: list[dict[str, Any]] = [
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {
                    "name": STORAGE_CLASS,
                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                },
                "provisioner": "kubernetes.io/no-provisioner",
                "volumeBindingMode": "WaitForFirstConsumer",
                "reclaimPolicy": "Retain",
            }
        ]
        for i in range(LOCAL_VOLUMES):
            path = volumes / f"pv-{i}"
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o777)  # pods of any uid may own it; the PV is theirs alone
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolume",
                    "metadata": {"name": f"local-{i}"},
                    "spec": {
                        "capacity": {"storage": LOCAL_VOLUME_SIZE},
                        "accessModes": ["ReadWriteOnce"],
                        "persistentVolumeReclaimPolicy": "Retain",
                        "storageClassName": STORAGE_CLASS,
                        "local": {"path": str(path)},
                        "nodeAffinity": {
                            "required": {
                                "nodeSelectorTerms": [
                                    {
                                        "matchExpressions": [
                                            {
                                                "key": "kubernetes.io/hostname",
                                                "operator": "In",
                                                "values": [NODE_NAME],
                                            }
                                        ]
                                    }
                                ]
                            }
                        },
                    },
                }
            )
        document = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
        self.kubectl("apply", "-f", "-", stdin=document)

    def _grant_coredns(self) -> None:
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(_coredns_rbac()))

    def _services(self, *, node: bool = True) -> dict[str, Service]:
        """Every process of the cluster by name; ``node=False``: the host's only (the control
        plane, MinIO). Building the node's rewrites their configuration files, and kube-proxy
        exits when its file is written."""
        p = self.ports
        ca = self.pki.ca
        n = self.slot.n
        serving = self.pki.issue(
            f"apiserver-{n}",
            "kube-apiserver",
            hosts=(
                self.slot.host_ip,
                "127.0.0.1",
                "localhost",
                self.slot.kubernetes_ip,
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ),
            server=True,
        )
        kubelet_client = self.pki.issue(
            "apiserver-kubelet-client",
            "kube-apiserver-kubelet-client",
            organization="system:masters",
            client=True,
        )
        sa = self.pki.service_account_keys()
        kcm = self._client_kubeconfig(
            "controller-manager.kubeconfig",
            self.pki.issue("controller-manager", "system:kube-controller-manager", client=True),
        )
        scheduler = self._client_kubeconfig(
            "scheduler.kubeconfig",
            self.pki.issue("scheduler", "system:kube-scheduler", client=True),
        )
        etcd_url = f"http://127.0.0.1:{p.etcd}"
        services = {
            "etcd": Service(
                "etcd",
                [
                    str(binaries.binary("etcd")),
                    "--name=local",
                    f"--data-dir={self.state / 'etcd'}",
                    f"--listen-client-urls={etcd_url}",
                    f"--advertise-client-urls={etcd_url}",
                    f"--listen-peer-urls=http://127.0.0.1:{p.etcd_peer}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{p.etcd_peer}",
                    f"--initial-cluster=local=http://127.0.0.1:{p.etcd_peer}",
                    # A throw-away local store: durability across power loss is not needed.
                    "--unsafe-no-fsync",
                    "--log-level=warn",
                ],
                http_ok(f"{etcd_url}/health"),
            ),
            "kube-apiserver": Service(
                "kube-apiserver",
                [
                    str(binaries.binary("kube-apiserver")),
                    f"--etcd-servers={etcd_url}",
                    f"--bind-address={self.slot.host_ip}",
                    f"--advertise-address={self.slot.host_ip}",
                    f"--secure-port={p.apiserver}",
                    f"--tls-cert-file={serving.cert}",
                    f"--tls-private-key-file={serving.key}",
                    f"--client-ca-file={ca.cert}",
                    f"--service-cluster-ip-range={self.slot.service_cidr}",
                    f"--service-account-issuer={SA_ISSUER}",
                    f"--service-account-key-file={sa.cert}",
                    f"--service-account-signing-key-file={sa.key}",
                    f"--api-audiences={SA_ISSUER}",
                    "--authorization-mode=Node,RBAC",
                    "--enable-admission-plugins=NodeRestriction",
                    "--allow-privileged=true",
                    f"--kubelet-client-certificate={kubelet_client.cert}",
                    f"--kubelet-client-key={kubelet_client.key}",
                    "--kubelet-preferred-address-types=InternalIP",
                    f"--kubelet-certificate-authority={ca.cert}",
                    "--profiling=false",
                    "--v=1",
                ],
                http_ok(f"{self.server}/readyz", ca=ca.cert),
                start_timeout=120,
            ),
            "kube-controller-manager": Service(
                "kube-controller-manager",
                [
                    str(binaries.binary("kube-controller-manager")),
                    f"--kubeconfig={kcm}",
                    f"--authentication-kubeconfig={kcm}",
                    f"--authorization-kubeconfig={kcm}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={p.controller_manager}",
                    f"--service-account-private-key-file={sa.key}",
                    f"--root-ca-file={ca.cert}",
                    f"--cluster-signing-cert-file={ca.cert}",
                    f"--cluster-signing-key-file={ca.key}",
                    "--use-service-account-credentials=true",
                    f"--service-cluster-ip-range={self.slot.service_cidr}",
                    "--allocate-node-cidrs=true",
                    f"--cluster-cidr={self.slot.pod_cidr}",
                    "--node-cidr-mask-size=24",
                    "--leader-elect=false",
                    "--v=1",
                ],
                http_ok(f"https://127.0.0.1:{p.controller_manager}/healthz", insecure=True),
                start_timeout=60,
            ),
            "kube-scheduler": Service(
                "kube-scheduler",
                [
                    str(binaries.binary("kube-scheduler")),
                    f"--kubeconfig={scheduler}",
                    f"--authentication-kubeconfig={scheduler}",
                    f"--authorization-kubeconfig={scheduler}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={p.scheduler}",
                    "--leader-elect=false",
                    "--v=1",
                ],
                http_ok(f"https://127.0.0.1:{p.scheduler}/healthz", insecure=True),
                start_timeout=60,
            ),
            **(self.node.services(self._node_identity()) if node else {}),
            "minio": Service(
                "minio",
                [
                    str(binaries.binary("minio")),
                    "server",
                    str(self.state / "minio"),
                    f"--address={self.slot.host_ip}:{p.minio}",
                    f"--console-address=127.0.0.1:{p.minio_console}",
                    "--quiet",
                ],
                http_ok(f"{self.s3.endpoint}/minio/health/live"),
                env={
                    "MINIO_ROOT_USER": self.s3.access_key,
                    "MINIO_ROOT_PASSWORD": self.s3.secret_key,
                    "MINIO_BROWSER": "off",
                    "MINIO_UPDATE": "off",
                },
            ),
        }
        if node:
            services["coredns"].prepare = self._grant_coredns
        return services

    def _node_identity(self) -> NodeIdentity:
        ca = self.pki.ca
        n = self.slot.n
        return NodeIdentity(
            ca=ca.cert,
            kubelet_kubeconfig=self._client_kubeconfig(
                "kubelet.kubeconfig",
                self.pki.issue(
                    "kubelet",
                    f"system:node:{NODE_NAME}",
                    organization="system:nodes",
                    client=True,
                ),
            ),
            kubelet_serving=self.pki.issue(
                f"kubelet-serving-{n}",
                NODE_NAME,
                hosts=(self.slot.node_ip, NODE_NAME),
                server=True,
            ),
            proxy_kubeconfig=self._client_kubeconfig(
                "kube-proxy.kubeconfig",
                self.pki.issue("kube-proxy", "system:kube-proxy", client=True),
            ),
            coredns_kubeconfig=self._client_kubeconfig(
                "coredns.kubeconfig", self.pki.issue("coredns", COREDNS_USER, client=True)
            ),
        )

    def _client_kubeconfig(self, name: str, pair: KeyPair) -> Path:
        path = self.state / name
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "mlkube-local",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority": str(self.pki.ca.cert),
                    },
                }
            ],
            "users": [
                {
                    "name": "user",
                    "user": {"client-certificate": str(pair.cert), "client-key": str(pair.key)},
                }
            ],
            "contexts": [
                {"name": "mlkube-local", "context": {"cluster": "mlkube-local", "user": "user"}}
            ],
            "current-context": "mlkube-local",
        }
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    def _write_kubeconfig(self) -> None:
        admin = self.pki.issue("admin", "mlkube-admin", organization="system:masters", client=True)
        written = self._client_kubeconfig("kubeconfig", admin)
        assert written == self.kubeconfig

    def _ensure_bucket(self) -> None:
        from minio import Minio

        client = Minio(
            self.s3.endpoint.removeprefix("http://"),
            access_key=self.s3.access_key,
            secret_key=self.s3.secret_key,
            secure=False,
        )
        if not client.bucket_exists(self.s3.bucket):
            client.make_bucket(self.s3.bucket)


COREDNS_USER = "mlkube:coredns"


def _coredns_rbac() -> list[dict[str, Any]]:
    """What CoreDNS's kubernetes plugin reads: Services, EndpointSlices, namespaces and pods."""
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "mlkube:coredns"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["services", "pods", "namespaces", "endpoints"],
                    "verbs": ["list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "mlkube:coredns"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "mlkube:coredns",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": COREDNS_USER}
            ],
        },
    ]
