"""mlkube's own components on the local stack, either way:

- ``host``: the tracking server and the operator as host processes against the local control
  plane (what tests use: fast to start, logs in the state directory);
- ``chart``: ``helm install`` of charts/mlkube, so both run as pods of the node agent with their
  own ServiceAccounts and RBAC, as on any cluster (what `make demo` uses). The chart's bundled
  MinIO is turned off: the stack's MinIO serves as the external object store.
"""

from __future__ import annotations

import json
import subprocess
import sys

from e2e.cluster.cluster import ROOT, LocalCluster, free_port
from e2e.cluster.processes import Service, http_ok

SERVER = "mlkube-server"
OPERATOR = "mlkube-operator"
# The platform's own namespace on the local stack: experiment-id counter, default workspace.
PLATFORM_NAMESPACE = "default"


def server_service(cluster: LocalCluster, port: int) -> Service:
    """`mlkube server` on 127.0.0.1:<port> against the stack's API server and MinIO."""
    return Service(
        SERVER,
        [
            sys.executable,
            "-m",
            "mlkube.cli",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--namespace",
            PLATFORM_NAMESPACE,
        ],
        http_ok(f"http://127.0.0.1:{port}/health"),
        env={**cluster.env(), "MLKUBE_ID_NAMESPACE": PLATFORM_NAMESPACE, "PYTHONUNBUFFERED": "1"},
        start_timeout=60,
    )


def operator_service(cluster: LocalCluster, tracking_uri: str) -> Service:
    """`mlkube-operator` watching every namespace, with the stack's object storage."""
    health = f"http://127.0.0.1:{free_port()}/healthz"
    return Service(
        OPERATOR,
        [sys.executable, "-m", "mlkube_operator.main"],
        http_ok(health),
        env={
            **cluster.env(),
            "MLKUBE_LIVENESS_ENDPOINT": health,
            "MLKUBE_METRICS_PORT": str(free_port()),
            "MLKUBE_TRACKING_URI": tracking_uri,
            "MLKUBE_ID_NAMESPACE": PLATFORM_NAMESPACE,
            "PYTHONUNBUFFERED": "1",
        },
        start_timeout=60,
    )


def start_server(cluster: LocalCluster) -> str:
    """Start the tracking server unless it runs; return its URL."""
    record = cluster.state / "tracking-uri"
    if SERVER in cluster.running() and record.exists():
        return record.read_text().strip()
    port = free_port()
    cluster.supervisor.start(server_service(cluster, port))
    uri = f"http://127.0.0.1:{port}"
    record.write_text(uri)
    return uri


def start_operator(cluster: LocalCluster, tracking_uri: str) -> None:
    if OPERATOR not in cluster.running():
        cluster.supervisor.start(operator_service(cluster, tracking_uri))


def start_platform(cluster: LocalCluster) -> str:
    """The tracking server, then the operator pointing run pods at it; returns the tracking URI."""
    uri = start_server(cluster)
    start_operator(cluster, uri)
    return uri


def stop_platform(cluster: LocalCluster) -> None:
    cluster.supervisor.stop([OPERATOR, SERVER])


CHART = ROOT / "charts" / "mlkube"
CHART_NAMESPACE = "mlkube-system"
RELEASE = "mlkube"


def install_chart(cluster: LocalCluster, timeout: int = 180) -> str:
    """`helm upgrade --install` the chart and wait for its pods; returns the tracking server's
    URL by ClusterIP (which answers from the host on the local stack)."""
    s3 = cluster.s3
    cluster.kubectl("create", "namespace", CHART_NAMESPACE, check=False)
    result = subprocess.run(
        [
            str(cluster.bin_dir / "helm"),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "upgrade",
            "--install",
            RELEASE,
            str(CHART),
            "-n",
            CHART_NAMESPACE,
            "--set",
            "minio.enabled=false",
            "--set",
            f"objectStore.endpoint={s3.endpoint}",
            "--set",
            f"objectStore.bucket={s3.bucket}",
            "--set",
            f"objectStore.accessKey={s3.access_key}",
            "--set",
            f"objectStore.secretKey={s3.secret_key}",
            "--wait",
            f"--timeout={timeout}s",
        ],
        capture_output=True,
        text=True,
        timeout=timeout + 60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"helm install failed: {result.stderr.strip()}")
    service = json.loads(
        cluster.kubectl("get", "service", f"{RELEASE}-server", "-n", CHART_NAMESPACE, "-o", "json")
    )
    port = service["spec"]["ports"][0]["port"]
    return f"http://{service['spec']['clusterIP']}:{port}"
