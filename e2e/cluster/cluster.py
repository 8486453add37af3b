"""The local control plane: real etcd, kube-apiserver, kube-controller-manager and MinIO, as
processes on loopback. It is the test tier's cluster and the product's local mode (`make up`).
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

from e2e.cluster import binaries
from e2e.cluster.agent import ranges
from e2e.cluster.agent.kube import Client, ClientConfig
from e2e.cluster.certs import PKI, KeyPair
from e2e.cluster.processes import Service, Supervisor, http_ok, running_in

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"
AGENT_RBAC = ROOT / "e2e" / "cluster" / "agent" / "rbac.yaml"
# Services get ClusterIPs from a loopback range, so the node agent (issue 5) serves them here
# without touching any other network. Each cluster has its own slot of that range (and of the pod
# range), so clusters running side by side on one machine never share an address: see
# e2e/cluster/agent/ranges.py. The first address of a service range is the `kubernetes` Service.
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
NODE_NAME = "mlkube-node"
# Start order; stopped in reverse.
ORDER = ("etcd", "kube-apiserver", "kube-controller-manager", "node-agent", "minio")
# Which cluster uses which loopback ranges, machine-wide.
NETWORK_SLOTS = binaries.cache_dir() / "network-slots"


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
    minio: int
    minio_console: int
    kubelet: int
    kubelet_healthz: int

    @classmethod
    def pick(cls, saved: dict[str, int] | None = None) -> Ports:
        """The ``saved`` ports, and fresh ones for any not saved (a state from an older version)."""
        saved = saved or {}
        return cls(**{f.name: saved.get(f.name) or free_port() for f in fields(cls)})


def _progress(message: str) -> None:
    print(f"[cluster] {message}", file=sys.stderr, flush=True)


class LocalCluster:
    """One local control plane whose state (certs, data, logs, pids) lives in ``state``."""

    def __init__(self, state: Path, *, detach: bool = False) -> None:
        self.state = state.resolve()
        self.state.mkdir(parents=True, exist_ok=True)
        self.supervisor = Supervisor(self.state, detach=detach)
        self.pki = PKI(self.state / "pki")
        self.kubeconfig = self.state / "kubeconfig"
        config = self.state / "cluster.json"
        saved = json.loads(config.read_text()) if config.exists() else {}
        self.ports = Ports.pick(saved.get("ports"))
        if "s3" in saved:
            self.s3 = S3(**saved["s3"])
        else:
            self.s3 = S3(
                endpoint=f"http://127.0.0.1:{self.ports.minio}",
                access_key="mlkube",
                secret_key=os.urandom(12).hex(),
            )
        self.ranges = self._claim_ranges(saved.get("slot"))
        config.write_text(
            json.dumps(
                {"ports": asdict(self.ports), "s3": asdict(self.s3), "slot": self.ranges.slot}
            )
        )

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports.apiserver}"

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start whatever is not running yet, apply the CRDs and create the bucket."""
        started = time.monotonic()
        self.ranges = self._claim_ranges(self.ranges.slot)  # again, if stop() released it
        running = self.supervisor.running()
        self._write_kubeconfig()
        for name, service in self._services().items():
            if name in running:
                _progress(f"{name}: already running (pid {running[name]})")
                continue
            _progress(f"{name}: starting")
            self.supervisor.start(service)
        self.apply_crds()
        self._ensure_bucket()
        _progress(f"ready in {time.monotonic() - started:.1f}s; KUBECONFIG={self.kubeconfig}")

    def stop(self) -> None:
        self.supervisor.stop(list(reversed(ORDER)))
        ranges.release(NETWORK_SLOTS, self.state, self.ranges)

    def running(self) -> dict[str, int]:
        return self.supervisor.running()

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

    def _claim_ranges(self, slot: int | None) -> ranges.Ranges:
        """This cluster's loopback ranges, exclusive on this machine while it runs."""
        return ranges.claim(NETWORK_SLOTS, self.state, lambda o: bool(running_in(o)), slot)

    def _services(self) -> dict[str, Service]:
        p = self.ports
        ca = self.pki.ca
        serving = self.pki.issue(
            "apiserver",
            "kube-apiserver",
            hosts=(
                "127.0.0.1",
                "localhost",
                self.ranges.kubernetes_ip,
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
        kcm = self.pki.issue("controller-manager", "system:kube-controller-manager", client=True)
        kcm_config = self._client_kubeconfig("controller-manager.kubeconfig", kcm)
        etcd_url = f"http://127.0.0.1:{p.etcd}"
        return {
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
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    f"--secure-port={p.apiserver}",
                    f"--tls-cert-file={serving.cert}",
                    f"--tls-private-key-file={serving.key}",
                    f"--client-ca-file={ca.cert}",
                    f"--service-cluster-ip-range={self.ranges.service_cidr}",
                    f"--service-account-issuer={SA_ISSUER}",
                    f"--service-account-key-file={sa.cert}",
                    f"--service-account-signing-key-file={sa.key}",
                    f"--api-audiences={SA_ISSUER}",
                    "--authorization-mode=RBAC",
                    "--allow-privileged=true",
                    f"--kubelet-client-certificate={kubelet_client.cert}",
                    f"--kubelet-client-key={kubelet_client.key}",
                    # The node agent's kubelet endpoint: the node's InternalIP, a CA-signed cert.
                    "--kubelet-preferred-address-types=InternalIP",
                    f"--kubelet-certificate-authority={ca.cert}",
                    # Endpoints cannot hold loopback addresses (API validation), so the node
                    # agent serves the `kubernetes` Service's endpoint itself.
                    "--endpoint-reconciler-type=none",
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
                    f"--kubeconfig={kcm_config}",
                    f"--authentication-kubeconfig={kcm_config}",
                    f"--authorization-kubeconfig={kcm_config}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={p.controller_manager}",
                    f"--service-account-private-key-file={sa.key}",
                    f"--root-ca-file={ca.cert}",
                    f"--cluster-signing-cert-file={ca.cert}",
                    f"--cluster-signing-key-file={ca.key}",
                    "--use-service-account-credentials=true",
                    f"--service-cluster-ip-range={self.ranges.service_cidr}",
                    # They would try to write pods' loopback IPs into Endpoints(Slices), which the
                    # API refuses; the node agent computes Service endpoints from pods instead.
                    "--controllers=*,-endpoints-controller,-endpointslice-controller,"
                    "-endpointslice-mirroring-controller",
                    "--leader-elect=false",
                    "--v=1",
                ],
                http_ok(f"https://127.0.0.1:{p.controller_manager}/healthz", insecure=True),
                start_timeout=60,
            ),
            "node-agent": self._node_agent(),
            "minio": Service(
                "minio",
                [
                    str(binaries.binary("minio")),
                    "server",
                    str(self.state / "minio"),
                    f"--address=127.0.0.1:{p.minio}",
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

    def _node_agent(self) -> Service:
        """The node agent (issue 5): kubelet, scheduler and service proxy of one node."""
        client = self.pki.issue(
            "node-agent", f"system:node:{NODE_NAME}", organization="system:nodes", client=True
        )
        serving = self.pki.issue(
            "node-agent-serving",
            NODE_NAME,
            hosts=("127.0.0.1", "localhost", NODE_NAME),
            server=True,
        )
        kubeconfig = self._client_kubeconfig("node-agent.kubeconfig", client)
        minio = binaries.MINIO.path("minio")
        pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        return Service(
            "node-agent",
            [
                sys.executable,
                "-m",
                "e2e.cluster.agent",
                f"--root={self.state / 'agent'}",
                f"--kubeconfig={kubeconfig}",
                f"--node-name={NODE_NAME}",
                f"--pod-cidr={self.ranges.pod_cidr}",
                f"--cluster-dns={self.ranges.dns_ip}",
                f"--port={self.ports.kubelet}",
                f"--healthz-port={self.ports.kubelet_healthz}",
                f"--tls-cert={serving.cert}",
                f"--tls-key={serving.key}",
                f"--client-ca={self.pki.ca.cert}",
                f"--kubelet-version={binaries.KUBERNETES_VERSION}",
                *([f"--minio={minio}"] if minio.is_file() else []),
            ],
            http_ok(f"http://127.0.0.1:{self.ports.kubelet_healthz}/healthz"),
            env={"PYTHONPATH": pythonpath},
            start_timeout=90,
            prepare=self._grant_node_agent,
        )

    def _grant_node_agent(self) -> None:
        """Apply the node agent's RBAC (a server-side apply: quicker than a kubectl process)."""
        client = Client(ClientConfig.from_kubeconfig(self.kubeconfig), user_agent="mlkube-harness")
        for document in yaml.safe_load_all(AGENT_RBAC.read_text()):
            plural = document["kind"].lower() + "s"  # ClusterRole, ClusterRoleBinding
            client.request(
                "PATCH",
                f"/apis/rbac.authorization.k8s.io/v1/{plural}/{document['metadata']['name']}",
                query={"fieldManager": "mlkube-harness", "force": "true"},
                body=document,
                content_type="application/apply-patch+yaml",
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
