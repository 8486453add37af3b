"""mlkube's own components on the local stack, either way:

- ``host``: the tracking server and the operator as host processes against the local control
  plane (what most tests use: fast to start, logs in the state directory). They listen on the
  host end of the node's link, so run and model pods reach them, as they reach the stack's MinIO;
- ``chart``: ``helm install`` of charts/mlkube, so the operator, the tracking server and MinIO run
  as containers of mlkube's own images with their own ServiceAccounts and RBAC, as on any cluster
  (what `make demo` uses).
"""

from __future__ import annotations

import subprocess
import sys

from e2e.cluster.cluster import ROOT, LocalCluster, free_port
from e2e.cluster.processes import Service, http_ok
from mlkube_operator.server.http.ui import installed_bundle

SERVER = "mlkube-server"
OPERATOR = "mlkube-operator"
# The platform's own namespace on the local stack: experiment-id counter, default workspace.
PLATFORM_NAMESPACE = "default"
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# The registry source allowlist of the server and the operator: a bucket that never exists, so
# that a test can see a storage error end a registration (e2e/test_registry_sources.py).
MISSING_ALLOWLISTED_BUCKET = "mlkube-e2e-missing"
REGISTRY_SOURCE_ALLOWLIST = f"s3://{MISSING_ALLOWLISTED_BUCKET}/models/"


def server_service(cluster: LocalCluster, port: int) -> Service:
    """`mlkube-server` on 127.0.0.1:<port> against the stack's API server and MinIO (run as its
    module: the console script exists only once `make setup` has reinstalled the package), with
    MLflow's web UI from the installed (pinned) mlflow, as the chart's server has from its image."""
    ui = installed_bundle()
    return Service(
        SERVER,
        [
            sys.executable,
            "-m",
            "mlkube_operator.server.main",
            "--host",
            cluster.slot.host_ip,
            "--port",
            str(port),
            "--namespace",
            PLATFORM_NAMESPACE,
        ],
        http_ok(f"http://{cluster.slot.host_ip}:{port}/health"),
        env={
            **cluster.env(),
            "MLKUBE_ID_NAMESPACE": PLATFORM_NAMESPACE,
            "MLKUBE_REGISTRY_SOURCE_ALLOWLIST": REGISTRY_SOURCE_ALLOWLIST,
            "PYTHONUNBUFFERED": "1",
            **({"MLKUBE_UI_DIR": str(ui)} if ui else {}),
        },
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
            "MLKUBE_REGISTRY_SOURCE_ALLOWLIST": REGISTRY_SOURCE_ALLOWLIST,
            # Run pods reach the package registries as this machine does (python_env installs).
            "MLKUBE_CA_BUNDLE": HOST_CA_BUNDLE,
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
    uri = f"http://{cluster.slot.host_ip}:{port}"
    record.write_text(uri)
    return uri


def start_operator(cluster: LocalCluster, tracking_uri: str) -> None:
    if OPERATOR not in cluster.running():
        cluster.supervisor.start(operator_service(cluster, tracking_uri))


def apply_workload_roles(cluster: LocalCluster) -> None:
    """The ClusterRoles that the operator binds run and serving pods to (``mlkube-run``,
    ``mlkube-serving``: the operator's defaults), rendered from the chart's one template so the
    rules exist once."""
    rendered = helm(
        cluster, "template", RELEASE, str(CHART), "--show-only", WORKLOAD_ROLES, timeout=60
    )
    cluster.kubectl("apply", "-f", "-", stdin=rendered)


def start_platform(cluster: LocalCluster) -> str:
    """The tracking server, then the operator pointing run pods at it; returns the tracking URI."""
    uri = start_server(cluster)
    apply_workload_roles(cluster)
    start_operator(cluster, uri)
    return uri


def stop_platform(cluster: LocalCluster) -> None:
    cluster.supervisor.stop([OPERATOR, SERVER])


CHART = ROOT / "charts" / "mlkube"
CHART_NAMESPACE = "mlkube-system"
RELEASE = "mlkube"
WORKLOAD_ROLES = "templates/rbac/workload-roles.yaml"


def helm(cluster: LocalCluster, *args: str, timeout: int = 300) -> str:
    """Run helm against the cluster; raise with its stderr when it fails."""
    result = subprocess.run(
        [str(cluster.bin_dir / "helm"), "--kubeconfig", str(cluster.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=timeout + 60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"helm {args[0]} failed: {result.stderr.strip()}")
    return result.stdout


def chart_values(cluster: LocalCluster) -> list[str]:
    """The local cluster's values for the chart: the bundled MinIO (a real container on a
    PersistentVolumeClaim) with this cluster's keys, and the host's CA bundle for run pods."""
    return [
        "--set",
        f"objectStore.accessKey={cluster.s3.access_key}",
        "--set",
        f"objectStore.secretKey={cluster.s3.secret_key}",
        "--set-file",
        f"runs.caBundle={HOST_CA_BUNDLE}",
    ]


def install_chart(cluster: LocalCluster, *values: str, timeout: int = 300) -> dict[str, str]:
    """`helm upgrade --install` the chart (``values``: more helm flags, such as ``--set k=v``)
    and wait for its pods; returns what a client on the host needs: the tracking server's and
    MinIO's URLs by ClusterIP (routed to the node)."""
    helm(
        cluster,
        "upgrade",
        "--install",
        RELEASE,
        str(CHART),
        "-n",
        CHART_NAMESPACE,
        "--create-namespace",
        *chart_values(cluster),
        *values,
        "--wait",
        f"--timeout={timeout}s",
        timeout=timeout,
    )
    return {
        "MLFLOW_TRACKING_URI": service_url(cluster, f"{RELEASE}-server"),
        "MLKUBE_S3_ENDPOINT": service_url(cluster, f"{RELEASE}-minio"),
    }


def service_url(cluster: LocalCluster, name: str) -> str:
    service = cluster.get_json(CHART_NAMESPACE, "service", name)
    port = service["spec"]["ports"][0]["port"]
    return f"http://{service['spec']['clusterIP']}:{port}"
