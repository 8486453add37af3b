"""Issue 3: the local control plane is a real Kubernetes control plane plus MinIO and Helm."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from minio import Minio

from e2e.cluster import binaries, slots, sysctls
from e2e.cluster.cluster import CRDS, NETWORK_SLOTS, ROOT, LocalCluster
from e2e.cluster.waiting import eventually
from mlkube.api.kinds import KINDS


def test_server_is_the_pinned_release_with_the_core_apis(cluster: LocalCluster) -> None:
    version = json.loads(cluster.kubectl("version", "-o", "json"))
    assert version["serverVersion"]["gitVersion"] == binaries.KUBERNETES_VERSION
    resources = cluster.kubectl("api-resources", "-o", "name").split()
    for wanted in ("jobs.batch", "deployments.apps", "leases.coordination.k8s.io"):
        assert wanted in resources


def test_every_crd_is_established(cluster: LocalCluster) -> None:
    names = cluster.kubectl(
        "get", "crds", "-l", "app.kubernetes.io/part-of=mlkube", "-o", "name"
    ).split()
    # One per kind of mlkube.api.kinds, so a new kind cannot ship without its CRD installed.
    assert len(names) == len(list(CRDS.glob("*.yaml"))) == len(KINDS)
    for name in names:
        status = cluster.kubectl(
            "get", name, "-o", "jsonpath={.status.conditions[?(@.type=='Established')].status}"
        )
        assert status == "True"
    assert "mlkube.io" in cluster.kubectl("api-resources", "--api-group=mlkube.io")


def test_a_run_that_violates_the_schema_is_rejected_naming_the_fields(
    cluster: LocalCluster, namespace: str
) -> None:
    bad = f"""
apiVersion: mlkube.io/v1alpha1
kind: Run
metadata: {{name: bad, namespace: {namespace}}}
spec:
  backoffLimit: -1
  project: {{uri: "s3://mlkube/p.tar.gz", path: /src}}
"""
    with pytest.raises(subprocess.CalledProcessError) as rejected:
        cluster.kubectl("apply", "-f", "-", stdin=bad)
    stderr = rejected.value.stderr
    assert "spec.backoffLimit" in stderr
    assert "spec.project" in stderr
    assert "set exactly one of uri, git, path" in stderr
    assert cluster.kubectl("get", "runs", "-n", namespace, "-o", "name") == ""


def test_immutable_fields_cannot_change(cluster: LocalCluster, namespace: str) -> None:
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        stdin=f"""
apiVersion: mlkube.io/v1alpha1
kind: ModelVersion
metadata: {{name: iris-1, namespace: {namespace}}}
spec: {{model: iris, source: "s3://mlkube/models/iris"}}
""",
    )
    with pytest.raises(subprocess.CalledProcessError) as rejected:
        cluster.kubectl(
            "patch",
            "modelversion",
            "iris-1",
            "-n",
            namespace,
            "--type=merge",
            "-p",
            '{"spec":{"source":"s3://mlkube/other"}}',
        )
    assert "spec.source is immutable" in rejected.value.stderr


def pods_of(cluster: LocalCluster, namespace: str, job: str) -> list[str]:
    return cluster.kubectl(
        "get", "pods", "-n", namespace, "-l", f"job-name={job}", "-o", "name"
    ).split()


def test_job_controller_creates_a_pod_and_gc_removes_it(
    cluster: LocalCluster, namespace: str
) -> None:
    cluster.kubectl(
        "create",
        "job",
        "hello",
        "-n",
        namespace,
        "--image=python:3.11",
        "--",
        "python",
        "-c",
        "print(42)",
    )
    eventually(lambda: pods_of(cluster, namespace, "hello"), timeout=60, what="the Job's pod")
    cluster.kubectl("delete", "job", "hello", "-n", namespace, "--cascade=background")
    eventually(
        lambda: not pods_of(cluster, namespace, "hello"),
        timeout=60,
        what="the garbage collector to delete the pod",
    )


def test_minio_stores_and_returns_objects(cluster: LocalCluster) -> None:
    client = Minio(
        cluster.s3.endpoint.removeprefix("http://"),
        access_key=cluster.s3.access_key,
        secret_key=cluster.s3.secret_key,
        secure=False,
    )
    assert client.bucket_exists("mlkube")
    bucket = f"t-{uuid.uuid4().hex[:8]}"
    client.make_bucket(bucket)
    client.put_object(bucket, "a/b.txt", io.BytesIO(b"hello"), length=5)
    response = client.get_object(bucket, "a/b.txt")
    try:
        assert response.read() == b"hello"
    finally:
        response.close()
        response.release_conn()


def test_helm_runs(cluster: LocalCluster) -> None:
    out = subprocess.run(
        [str(cluster.bin_dir / "helm"), "version", "--short"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert out.startswith(binaries.HELM_VERSION)


def harness_processes(state: Path) -> list[str]:
    """Command lines of live processes that belong to the stack in ``state``: its path is in
    their command line (control plane) or their environment (mlkube's processes, via KUBECONFIG)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = (proc / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(state) in cmdline or f"KUBECONFIG={state}/" in environ:
            found.append(cmdline)
    return found


def machine_state(state: Path) -> dict[str, object]:
    """What a cluster may change on this machine: network namespaces, links, nft tables, iptables
    rules, mounts, top-level cgroups, containerd shims and the sysctls the kubelet sets.

    Other clusters on the machine (the session's own, another test session's) have pods coming
    and going meanwhile: whatever belongs to their slots is left out, as are podman's build
    mounts. So is every pod's own netns (`cni-*`), which only exists inside some cluster.
    """

    def lines(*argv: str) -> list[str]:
        out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
        return sorted(out.split("\n"))

    others = {n: owner for n, owner in slots.owners(NETWORK_SLOTS).items() if owner != state}
    names = tuple(
        name
        for n in others
        for name in (f"mlkube-{n} ", f"mlkube{n}@", f"mlkube_{n}", f"mlkube-{n}")
    )
    roots = (
        *(str(owner) for owner in others.values()),
        *(str(binaries.cache_dir() / "containerd" / str(n)) for n in others),
        str(binaries.cache_dir() / "podman"),
        "/run/netns/cni-",
        "/run/containerd/",
    )
    sockets = [str(owner / "containerd" / "containerd.sock").encode() for owner in others.values()]

    def mine(text: str) -> bool:
        return not any(name in text for name in names)

    return {
        "netns": [n for n in lines("ip", "netns", "list") if mine(n) and not n.startswith("cni-")],
        "links": [link for link in lines("ip", "-o", "link", "show") if mine(link)],
        "nft": [table for table in lines("nft", "list", "tables") if mine(table)],
        "iptables": lines("iptables-save"),
        "mounts": sorted(
            point
            for point in (
                line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
            )
            if not point.startswith(roots)
        ),
        "cgroups": sorted(
            p.name
            for p in Path("/sys/fs/cgroup/memory").iterdir()
            if p.is_dir() and p.name not in {f"mlkube-{n}" for n in others}
        ),
        "shims": sorted(
            p.name
            for p in Path("/proc").iterdir()
            if p.name.isdigit()
            and b"containerd-shim" in _cmdline(p)
            and not any(socket in _cmdline(p) for socket in sockets)
        ),
        "sysctls": sysctls.read(),
    }


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def test_up_writes_kubeconfig_and_env_and_down_leaves_nothing(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    """Beside the session's own cluster (which stays as it is), `make up` then `make down`."""
    state = tmp_path / "local"
    before = machine_state(state)
    try:
        # Inside the try: a `make up` that times out is still taken down by the `down` below.
        up = subprocess.run(
            [sys.executable, "-m", "e2e.cluster", "up", "--state", str(state)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert up.returncode == 0, up.stderr
        env = (state / "env").read_text()
        for name in (
            "KUBECONFIG",
            "MLKUBE_S3_ENDPOINT",
            "MLKUBE_S3_ACCESS_KEY",
            "MLKUBE_S3_SECRET_KEY",
            "MLKUBE_S3_BUCKET",
            "MLFLOW_TRACKING_URI",
            "MLFLOW_TRACKING_TOKEN",
            "PATH",
        ):
            assert f"export {name}=" in env
        shell = subprocess.run(
            [
                "bash",
                "-c",
                f"source {state / 'env'} && helm version --short && kubectl get --raw /readyz",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        helm_line, readyz = shell.stdout.splitlines()
        assert helm_line.startswith(binaries.HELM_VERSION)
        assert readyz == "ok"
        # etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd, kubelet,
        # kube-proxy, CoreDNS, MinIO, tracking server, operator
        assert len(harness_processes(state)) == 11
        during = machine_state(state)
        assert during != before  # the snapshot sees a cluster (else the check below is empty)
    finally:
        subprocess.run(
            [sys.executable, "-m", "e2e.cluster", "down", "--state", str(state)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert harness_processes(state) == []
    assert not state.exists()
    assert machine_state(state) == before
