"""Issue 13: code running in a Run in namespace `a`, using everything in its environment and its
filesystem, cannot read or write any object under namespace `b`'s prefix: not on the object store
directly, not through the tracking server's artifact proxy. And the Run still logs to `a` through
the tracking server with no token configured by the user.

The pod's token is valid (the server knows who it is) but RBAC gives `a`'s Run no rights in `b`:
the proxy answers 403.
"""

from __future__ import annotations

import hashlib
import io
import json
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from minio import Minio
from mlflow.tracking import MlflowClient

from e2e.cluster.cluster import LocalCluster
from e2e.test_runs import ended

MARKER = "ISOLATION-REPORT "
SECRET = b"team b's model, not for team a\n"
SHA = hashlib.sha256(SECRET).hexdigest()

MLPROJECT = """\
name: probe
entry_points:
  main:
    parameters:
      endpoint: string
      sha: string
    command: "python probe.py {endpoint} {sha}"
"""

# Runs in the Run's pod (mlkube-runtime: python3, mlflow, requests; no mlkube).
PROBE = textwrap.dedent(
    """\
    import json, os, sys, urllib.error, urllib.request

    import mlflow

    endpoint, sha = sys.argv[1], sys.argv[2]
    home = os.path.expanduser("~")
    roots = ["/var/run/secrets", "/mlkube", os.path.join(home, ".aws"), "/root/.aws",
             os.path.join(home, ".config"), os.path.join(home, ".mc"), "/etc/mlkube"]
    files = {}
    for root in roots:
        for here, dirs, names in os.walk(root):
            dirs[:] = [d for d in dirs if d not in ("venv", "project", "__pycache__")]
            for name in names:
                path = os.path.join(here, name)
                try:
                    with open(path, "rb") as handle:
                        files[path] = handle.read(65536).decode("utf-8", "replace")
                except OSError as err:
                    files[path] = "unreadable: %s" % err

    def status(method, url, headers=None, data=None):
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return response.status
        except urllib.error.HTTPError as err:
            return err.code
        except OSError as err:
            return str(err)

    token_file = os.environ.get("MLKUBE_TOKEN_FILE", "")
    token = open(token_file).read().strip() if token_file else ""
    credentials = {"anonymous": {}, "pod token": {"Authorization": "Bearer " + token}}
    key = "b-workspace/projects/%s.tar.gz" % sha
    direct = {}
    for label, headers in credentials.items():
        direct[label] = {
            "get": status("GET", "%s/mlkube/%s" % (endpoint, key), headers),
            "put": status("PUT", "%s/mlkube/%s" % (endpoint, key), headers, b"overwritten"),
            "list": status("GET", "%s/mlkube?list-type=2&prefix=b-workspace/" % endpoint, headers),
        }
    proxy = os.environ["MLFLOW_TRACKING_URI"] + "/api/2.0/mlflow-artifacts/artifacts/"
    as_b = {"Authorization": "Bearer " + token, "X-MLFLOW-WORKSPACE": "b-workspace"}
    server = {
        "get": status("GET", proxy + "projects/%s.tar.gz" % sha, as_b),
        "put": status("PUT", proxy + "projects/%s.tar.gz" % sha, as_b, b"overwritten"),
    }

    with mlflow.start_run():
        mlflow.log_param("probe", "ran")
        mlflow.log_metric("files_seen", len(files))
        mlflow.log_text("seen %d files" % len(files), "probe/summary.txt")
    report = {"env": dict(os.environ), "files": files, "direct": direct, "server": server}
    print("ISOLATION-REPORT " + json.dumps(report), flush=True)
    """
)


@pytest.fixture
def other_namespace(operator: LocalCluster) -> Iterator[str]:
    """Namespace `b`, with an object under its prefix that `a`'s Run goes after."""
    name = f"b-{uuid.uuid4().hex[:10]}"
    operator.kubectl("create", "namespace", name)
    s3 = operator.s3
    store = Minio(
        s3.endpoint.removeprefix("http://"),
        access_key=s3.access_key,
        secret_key=s3.secret_key,
        secure=False,
    )
    key = f"{name}/projects/{SHA}.tar.gz"
    store.put_object(s3.bucket, key, io.BytesIO(SECRET), len(SECRET))
    try:
        yield name
    finally:
        store.remove_object(s3.bucket, key)
        operator.kubectl("delete", "namespace", name, "--wait=false", check=False)


def report_of(cluster: LocalCluster, namespace: str, job: str) -> dict[str, Any]:
    logs = cluster.kubectl("logs", "-n", namespace, f"job/{job}", "-c", "main")
    line = next(line for line in logs.splitlines() if line.startswith(MARKER))
    found: dict[str, Any] = json.loads(line.removeprefix(MARKER))
    return found


def test_a_runs_code_reaches_no_object_of_another_namespace(
    operator: LocalCluster,
    namespace: str,
    other_namespace: str,
    tracking_uri: str,
    *,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = tmp_path / "probe"
    project.mkdir()
    (project / "MLproject").write_text(MLPROJECT)
    (project / "probe.py").write_text(PROBE.replace("b-workspace", other_namespace))
    s3 = operator.s3
    result = operator.mlkube(
        "run", str(project), "-n", namespace, "--name", "probe",
        "-P", f"endpoint={s3.endpoint}", "-P", f"sha={SHA}", timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    run = ended(operator, namespace, "probe", timeout=600)
    if run["status"]["phase"] != "Succeeded":
        logs = operator.kubectl(
            "logs", "-n", namespace, "job/probe", "--all-containers", check=False
        )
        raise AssertionError(f"{run['status'].get('message')}\n{logs[-3000:]}")
    report = report_of(operator, namespace, run["status"]["jobName"])

    # No object-store credential anywhere the code can look.
    seen = json.dumps({"env": report["env"], "files": report["files"]})
    # The secret key is the credential (the local access key is the word "mlkube", which paths,
    # names and MLFLOW_TRACKING_AUTH hold).
    assert s3.secret_key not in seen
    assert not [name for name in report["env"] if name.startswith(("MLKUBE_S3", "AWS_"))]
    assert not [p for p in report["files"] if p.startswith("/var/run/secrets/kubernetes.io")]
    assert "/var/run/secrets/mlkube.io/serviceaccount/token" in report["files"]

    # The object store refuses whatever the pod holds.
    for label, answers in report["direct"].items():
        assert answers == {"get": 403, "put": 403, "list": 403}, label
    assert operator_object(operator, other_namespace) == SECRET

    # The Run logged to `a` with no token configured by the user.
    monkeypatch.setenv("MLFLOW_WORKSPACE", namespace)
    logged = MlflowClient(tracking_uri).get_run(run["status"]["runId"])
    assert logged.data.params["probe"] == "ran"
    assert logged.data.metrics["files_seen"] >= 1
    # Its artifact, and the pod's log that the operator keeps under mlkube/ (pod-logs) once the
    # pod has ended, which may be a moment after the Run's phase says so.
    artifacts = {f.path for f in MlflowClient(tracking_uri).list_artifacts(logged.info.run_id)}
    assert "probe" in artifacts
    assert artifacts <= {"probe", "mlkube"}
    assert report["env"]["MLFLOW_TRACKING_AUTH"] == "mlkube"
    assert "MLFLOW_TRACKING_TOKEN" not in report["env"]

    # The tracking server knows the pod's token and refuses it in workspace `b`.
    assert report["server"]["get"] == 403, report["server"]
    assert report["server"]["put"] == 403, report["server"]


def operator_object(cluster: LocalCluster, namespace: str) -> bytes:
    """`b`'s object, read with the platform's own key: still what `b` put there."""
    s3 = cluster.s3
    store = Minio(
        s3.endpoint.removeprefix("http://"),
        access_key=s3.access_key,
        secret_key=s3.secret_key,
        secure=False,
    )
    response = store.get_object(s3.bucket, f"{namespace}/projects/{SHA}.tar.gz")
    try:
        return bytes(response.read())
    finally:
        response.close()
        response.release_conn()
