"""Crash, freeze and restart the local cluster's components, and always leave them running.

A fault test kills what the session's other tests rely on (the operator, the tracking server,
MinIO, the API server, etcd), so every kill happens inside :func:`restored`, which starts again
whatever is not running when the test ends, however it ends.
"""

from __future__ import annotations

import dataclasses
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from e2e.cluster.cluster import LocalCluster, free_port
from e2e.cluster.platform import OPERATOR, SERVER, operator_service, server_service
from e2e.cluster.processes import Service

ETCD = "etcd"
APISERVER = "kube-apiserver"
MINIO = "minio"


def tracking_uri(cluster: LocalCluster) -> str:
    return (cluster.state / "tracking-uri").read_text().strip()


def service_of(cluster: LocalCluster, name: str) -> Service:
    """How ``name`` starts: the platform's processes as platform.py starts them (the server on
    the port it had, so clients' URLs stay right), the cluster's own as cluster.py does."""
    if name == SERVER:
        port = urlsplit(tracking_uri(cluster)).port
        assert port is not None
        return server_service(cluster, port)
    if name == OPERATOR:
        return operator_service(cluster, tracking_uri(cluster))
    return cluster.service(name)


def crash(cluster: LocalCluster, name: str) -> None:
    """SIGKILL ``name`` (no grace: no shutdown handler runs)."""
    cluster.supervisor.kill(name)


def start(cluster: LocalCluster, name: str) -> float:
    """Start ``name`` and wait until it is healthy; return how long that took."""
    started = time.monotonic()
    cluster.supervisor.start(service_of(cluster, name))
    return time.monotonic() - started


def crash_and_restart(cluster: LocalCluster, name: str) -> float:
    """A crash followed at once by a restart (what a Deployment's pod restart does); returns
    how long the component was down."""
    started = time.monotonic()
    crash(cluster, name)
    start(cluster, name)
    return time.monotonic() - started


@contextmanager
def restored(cluster: LocalCluster, *names: str) -> Iterator[None]:
    """Whatever of ``names`` is not running at the end is started again (a frozen etcd is
    thawed first)."""
    try:
        yield
    finally:
        if ETCD in names and ETCD in cluster.running():
            cluster.supervisor.send(ETCD, signal.SIGCONT)
        for name in names:
            if name not in cluster.running():
                start(cluster, name)


@contextmanager
def second_server(cluster: LocalCluster) -> Iterator[str]:
    """A second tracking-server replica (another host process, same API server and MinIO, as
    the chart's ``server.replicas=2`` runs them); yields its URL, stops it afterwards."""
    port = free_port()
    name = f"{SERVER}-b"
    cluster.supervisor.start(dataclasses.replace(server_service(cluster, port), name=name))
    try:
        yield f"http://{cluster.slot.host_ip}:{port}"
    finally:
        cluster.supervisor.stop([name])


def rss_mib(cluster: LocalCluster, name: str) -> float:
    """The resident memory of the running process ``name``, in MiB (/proc's VmRSS)."""
    pid = cluster.running()[name]
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {name} ({pid})")
