"""Issue 11: the local cluster's node is a real kubelet on containerd and runc, running mlkube's
own images, with real pod networking, Services, DNS, logs, exec, port-forward and cgroups."""

from __future__ import annotations

import ipaddress
import json
import socket
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from e2e.cluster import binaries
from e2e.cluster.cluster import LocalCluster
from e2e.cluster.node import NODE_NAME
from e2e.cluster.waiting import eventually

# The runtime image under its documented alias (images/README.md).
PYTHON = "python:3.11"
SERVER = """
import http.server, socketserver
class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from " + socket.gethostname().encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
import socket
socketserver.TCPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer(("", 8080), Hello).serve_forever()
"""
FETCH = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read())"


def apply(cluster: LocalCluster, namespace: str, *objects: dict[str, Any]) -> None:
    document = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=document)


def pod(name: str, command: list[str], **spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": PYTHON, "command": command, **spec.pop("container", {})}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": [container], "terminationGracePeriodSeconds": 1, **spec},
    }


def wait_ready(cluster: LocalCluster, namespace: str, name: str, timeout: str = "120s") -> None:
    cluster.kubectl(
        "wait", "-n", namespace, "--for=condition=Ready", f"pod/{name}", f"--timeout={timeout}"
    )


@pytest.fixture
def web(cluster: LocalCluster, namespace: str) -> str:
    """A web server pod behind the Service `web` (port 80 -> 8080); yields the namespace."""
    apply(
        cluster,
        namespace,
        pod("web", ["python3", "-c", SERVER]),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    wait_ready(cluster, namespace, "web")
    return namespace


def test_the_node_is_a_kubelet_on_containerd(cluster: LocalCluster) -> None:
    wide = cluster.kubectl("get", "nodes", "-o", "wide")
    assert NODE_NAME in wide
    assert "containerd://1.6." in wide
    node = json.loads(cluster.kubectl("get", "node", NODE_NAME, "-o", "json"))
    info = node["status"]["nodeInfo"]
    assert info["kubeletVersion"] == binaries.KUBERNETES_VERSION
    assert info["containerRuntimeVersion"].startswith("containerd://1.6.")
    addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
    assert addresses["InternalIP"] == cluster.slot.node_ip


def test_pod_and_service_addresses_never_take_the_default_route(cluster: LocalCluster) -> None:
    for cidr in (cluster.slot.pod_cidr, cluster.slot.service_cidr):
        address = str(ipaddress.ip_network(cidr)[77])
        route = subprocess.run(
            ["ip", "route", "get", address], capture_output=True, text=True, check=True
        ).stdout
        assert f"dev {cluster.slot.host_link} " in route, route
        assert "eth0" not in route


def test_a_pod_has_its_own_network_namespace_and_an_address_from_the_pod_cidr(
    cluster: LocalCluster, web: str
) -> None:
    found = json.loads(cluster.kubectl("get", "pod", "web", "-n", web, "-o", "json"))
    address = ipaddress.ip_address(found["status"]["podIP"])
    assert address in ipaddress.ip_network(cluster.slot.pod_cidr)
    inside = cluster.kubectl("exec", "-n", web, "web", "--", "readlink", "/proc/self/ns/net")
    assert inside.strip() != Path("/proc/self/ns/net").readlink().name
    assert inside.startswith("net:[")


def test_pods_reach_a_service_by_its_dns_name_and_the_host_by_its_cluster_ip(
    cluster: LocalCluster, web: str
) -> None:
    apply(cluster, web, pod("client", ["sleep", "3600"]))
    wait_ready(cluster, web, "client")
    for name in (f"web.{web}.svc.cluster.local", "web"):
        out = cluster.kubectl(
            "exec", "-n", web, "client", "--", "python3", "-c", FETCH, f"http://{name}/"
        )
        assert "hello from web" in out
    service = cluster.get_json(web, "service", "web")
    with urllib.request.urlopen(f"http://{service['spec']['clusterIP']}/", timeout=10) as reply:
        assert reply.read() == b"hello from web"


def test_logs_follow_exec_and_port_forward_work(cluster: LocalCluster, web: str) -> None:
    counter = (
        "import time\nfor i in range(10000):\n    print('line', i, flush=True)\n"
        "    time.sleep(0.2)\n"
    )
    apply(cluster, web, pod("talker", ["python3", "-c", counter]))
    wait_ready(cluster, web, "talker")
    follow = subprocess.Popen(
        ["kubectl", "--kubeconfig", str(cluster.kubeconfig), "logs", "-f", "-n", web, "talker"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follow.stdout is not None
        lines = [follow.stdout.readline().strip() for _ in range(12)]
        assert lines[:2] == ["line 0", "line 1"]
        assert lines[-1] == "line 11"  # these came while the pod was still printing
    finally:
        follow.kill()
        follow.wait(timeout=10)
    assert cluster.kubectl("exec", "-n", web, "talker", "--", "id", "-u").strip() == "10001"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    forward = subprocess.Popen(
        [
            "kubectl",
            "--kubeconfig",
            str(cluster.kubeconfig),
            "port-forward",
            "-n",
            web,
            "pod/web",
            f"{port}:8080",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def fetch() -> bytes | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
                    return bytes(reply.read())
            except OSError:
                return None

        assert eventually(fetch, timeout=30, what="the port-forward to answer") == b"hello from web"
    finally:
        forward.kill()
        forward.wait(timeout=10)


def test_an_image_that_was_not_imported_fails_to_pull(
    cluster: LocalCluster, namespace: str
) -> None:
    apply(
        cluster, namespace, pod("nowhere", ["true"], container={"image": "example.invalid/none:1"})
    )

    def waiting_reason() -> str | None:
        found = cluster.get_json(namespace, "pod", "nowhere")
        for status in found.get("status", {}).get("containerStatuses", []):
            reason = status.get("state", {}).get("waiting", {}).get("reason")
            if reason in ("ErrImagePull", "ImagePullBackOff"):
                return str(reason)
        return None

    eventually(waiting_reason, timeout=60, what="the pod to fail pulling its image")


def test_requests_and_limits_reach_the_containers_cgroup(
    cluster: LocalCluster, namespace: str
) -> None:
    resources = {
        "requests": {"cpu": "250m", "memory": "64Mi"},
        "limits": {"cpu": "500m", "memory": "96Mi"},
    }
    apply(cluster, namespace, pod("limited", ["sleep", "3600"], container={"resources": resources}))
    wait_ready(cluster, namespace, "limited")
    uid = cluster.get_json(namespace, "pod", "limited")["metadata"]["uid"]
    parent = Path("/sys/fs/cgroup/memory") / cluster.slot.cgroup_parent.lstrip("/") / "kubepods"
    pod_cgroup = next(parent.rglob(f"pod{uid}"))
    assert pod_cgroup.parent.name == "burstable"
    assert int((pod_cgroup / "memory.limit_in_bytes").read_text()) == 96 * 2**20
    cpu = Path(str(pod_cgroup).replace("/memory/", "/cpu/"))
    assert int((cpu / "cpu.cfs_quota_us").read_text()) == 50_000
    assert int((cpu / "cpu.shares").read_text()) == 256


def test_a_second_cluster_on_the_machine_gets_its_own_slot(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    other = LocalCluster(tmp_path / "other")
    try:
        assert other.slot.n != cluster.slot.n
        assert other.slot.pod_cidr != cluster.slot.pod_cidr
        assert other.node.socket != cluster.node.socket
    finally:
        other.stop()
    assert other.leftovers() == []
