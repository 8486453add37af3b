"""Issue 11: the chart on real containers. `helm install` on a cluster of its own (beside the
session's), the quickstart on it, MinIO's data surviving its pod, `helm upgrade` rolling the
operator without losing a Run or a model, and `helm uninstall`. Issue 13: what the operator's and
the server's ServiceAccounts may do is what docs/security.md says, row by row; a release with
operator.watchNamespaces (an upgrade of the same release: a second install would be as slow as
this whole file) has a tracking server that serves the watched namespace and refuses others.
Issue 14: the tracking server serves MLflow's web UI from the image's bundle; a run's pod output
is kept as an artifact with the operator's RBAC.

The tests run in file order on one release: each one builds on what the previous one made.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pytest
from minio import Minio

from e2e.cluster.cluster import ROOT, LocalCluster
from e2e.cluster.identities import local_user_token
from e2e.cluster.platform import CHART, CHART_NAMESPACE, RELEASE, chart_values, helm, install_chart
from e2e.cluster.waiting import eventually

EXAMPLE = ROOT / "examples" / "sklearn-elasticnet"
SECURITY_DOC = ROOT / "docs" / "security.md"
NAMESPACE = "team-a"
COMPONENTS = ("operator", "server", "minio")
ACCOUNTS = ("operator", "server")
# A row of `kubectl auth can-i --list`: resource, non-resource URLs, resource names, verbs.
CAN_I_ROW = re.compile(r"^(\S*)\s+\[(.*?)\]\s+\[(.*?)\]\s+\[(.*?)\]\s*$")
Rights = dict[tuple[str, str], frozenset[str]]  # (resource or URL, resource name) -> verbs


@dataclass
class Release:
    cluster: LocalCluster
    env: dict[str, str]  # what a client on the host needs (tracking URI, MinIO by ClusterIP)
    made: dict[str, Any] = field(default_factory=dict)  # what earlier tests created

    def s3(self) -> Minio:
        s3 = self.cluster.s3
        endpoint = self.env["MLKUBE_S3_ENDPOINT"].removeprefix("http://")
        return Minio(endpoint, s3.access_key, s3.secret_key, secure=False)

    def objects(self) -> dict[str, str]:
        """Every object in the bucket under the team's prefix: key -> etag."""
        found = self.s3().list_objects(self.cluster.s3.bucket, f"{NAMESPACE}/", recursive=True)
        return {o.object_name: o.etag for o in found if o.object_name and o.etag}


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    cluster = LocalCluster(tmp_path_factory.mktemp("chart-cluster"))
    try:
        cluster.start()
        env = install_chart(cluster)
        cluster.kubectl("create", "namespace", NAMESPACE)
        # The tracking server wants a token (issue 13): the local cluster's user's.
        yield Release(cluster, {**env, "MLFLOW_TRACKING_TOKEN": local_user_token(cluster)})
    finally:
        cluster.stop()


def component_pods(cluster: LocalCluster) -> dict[str, dict[str, Any]]:
    pods = cluster.get_json(CHART_NAMESPACE, "pods")["items"]
    found = {}
    for pod in pods:
        component = pod["metadata"]["labels"].get("app.kubernetes.io/component")
        if component in COMPONENTS and pod["status"].get("phase") == "Running":
            found[component] = pod
    return found


def ready_version(cluster: LocalCluster, name: str) -> dict[str, Any] | None:
    found = cluster.get_json(NAMESPACE, "modelversion", name)
    status: dict[str, Any] = found.get("status") or {}
    return status if status.get("phase") in ("Ready", "FailedRegistration") else None


def register(release: Release, name: str, run_id: str) -> dict[str, Any]:
    release.cluster.apply_objects(
        NAMESPACE,
        {"kind": "RegisteredModel", "metadata": {"name": "diabetes"}, "spec": {}},
        {
            "kind": "ModelVersion",
            "metadata": {"name": name},
            "spec": {"model": "diabetes", "source": f"runs:/{run_id}/model"},
        },
    )
    status = eventually(
        lambda: ready_version(release.cluster, name), timeout=180, what=f"version {name}"
    )
    assert status["phase"] == "Ready", status
    return status


def can_i_list(cluster: LocalCluster, namespace: str, account: str) -> Rights:
    """`kubectl auth can-i --list` in ``namespace`` as the release namespace's ServiceAccount
    ``account``, one entry per resource (or URL) and resource name."""
    out = cluster.kubectl(
        "auth", "can-i", "--list", "-n", namespace,
        f"--as=system:serviceaccount:{CHART_NAMESPACE}:{account}",
    )  # fmt: skip
    rights: dict[tuple[str, str], set[str]] = {}
    for line in out.splitlines()[1:]:
        match = CAN_I_ROW.match(line)
        assert match, line
        resource, urls, names, verbs = match.groups()
        for what in [resource] if resource else urls.split():
            for name in names.split() or [""]:
                rights.setdefault((what, name), set()).update(verbs.split())
    return {key: frozenset(verbs) for key, verbs in rights.items()}


def granted(cluster: LocalCluster, namespace: str, account: str) -> Rights:
    """What the chart gives ``account`` in ``namespace``: its rights less those of the namespace's
    default ServiceAccount (what Kubernetes gives every ServiceAccount)."""
    everyone = can_i_list(cluster, namespace, "default")
    rights = {
        key: verbs - everyone.get(key, frozenset())
        for key, verbs in can_i_list(cluster, namespace, account).items()
    }
    return {key: verbs for key, verbs in rights.items() if verbs}


def documented(account: str) -> dict[tuple[str, str], tuple[frozenset[str], str]]:
    """The table of docs/security.md under the heading that names `<release>-<account>`:
    (resource, resource name) -> (verbs, scope)."""
    lines = SECURITY_DOC.read_text().splitlines()
    start = next(
        i for i, line in enumerate(lines)
        if line.startswith("### ") and f"`<release>-{account}`" in line
    )  # fmt: skip
    table = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            table.append([cell.strip().replace("`", "") for cell in line.strip("|").split("|")])
    assert table[0][:4] == ["Resource", "Names", "Verbs", "Scope"], table[0]
    rows = {}
    for resource, names, verbs, scope, _why in table[2:]:
        for name in [n.strip() for n in names.split(",")]:
            rows[resource, name] = (frozenset(v.strip() for v in verbs.split(",")), scope)
    return rows


def can_i(cluster: LocalCluster, *args: str) -> bool:
    answer = cluster.kubectl("auth", "can-i", *args, check=False).strip()
    assert answer in ("yes", "no"), answer
    return answer == "yes"


def test_every_component_is_a_non_root_container_of_mlkubes_images(release: Release) -> None:
    pods = component_pods(release.cluster)
    assert set(pods) == set(COMPONENTS)
    for component, pod in pods.items():
        (container,) = pod["spec"]["containers"]
        assert container["image"].startswith("docker.io/mlkube/"), container["image"]
        uid = (
            release.cluster.kubectl(
                "exec", "-n", CHART_NAMESPACE, pod["metadata"]["name"], "--", "id", "-u"
            )
            if component != "minio"
            else None
        )  # MinIO's image is FROM scratch: no `id`
        if uid is not None:
            assert uid.strip() == "10001"
        security = pod["spec"].get("securityContext") or {}
        assert security.get("runAsNonRoot") is True
        assert security.get("runAsUser") == 10001
    claims = release.cluster.get_json(CHART_NAMESPACE, "pvc")["items"]
    assert [c["status"]["phase"] for c in claims] == ["Bound"]


def test_the_server_serves_mlflows_web_ui_of_the_pinned_version(release: Release) -> None:
    """Issue 14: the chart's tracking server answers / with the UI bundle the image carries (that
    of the pinned mlflow wheel: the same as the installed reference's) and serves what it loads,
    without a token; the API the page calls still wants one."""
    bundle = Path(mlflow.__file__).parent / "server" / "js" / "build"
    base = release.env["MLFLOW_TRACKING_URI"]
    index = httpx.get(base + "/", timeout=30)
    assert index.status_code == 200, index.text[:500]
    assert index.headers["content-type"].startswith("text/html")
    assert index.content == (bundle / "index.html").read_bytes()
    scripts = re.findall(r'<script[^>]* src="(static-files/[^"]+\.js)"', index.text)
    assert scripts, index.text
    for path in [*scripts, "static-files/favicon.ico"]:
        got = httpx.get(f"{base}/{path}", timeout=30)
        assert got.status_code == 200, (path, got.text[:300])
        assert got.content == (bundle / path.removeprefix("static-files/")).read_bytes()
    script = httpx.get(f"{base}/{scripts[0]}", timeout=30)
    assert script.headers["content-type"].startswith("text/javascript")
    api = httpx.get(base + "/ajax-api/2.0/mlflow/experiments/search?max_results=1", timeout=30)
    assert api.status_code == 401, api.text


@pytest.mark.parametrize("account", ACCOUNTS)
def test_the_operator_and_the_server_may_do_what_docs_security_md_says(
    release: Release, account: str
) -> None:
    table = documented(account)
    sa = f"{RELEASE}-{account}"
    everywhere = {key: verbs for key, (verbs, _) in table.items()}
    assert granted(release.cluster, CHART_NAMESPACE, sa) == everywhere
    elsewhere = {
        key: verbs for key, (verbs, scope) in table.items() if scope != "release namespace"
    }
    assert granted(release.cluster, NAMESPACE, sa) == elsewhere
    assert elsewhere != everywhere  # the release namespace's own rows exist


def test_neither_may_touch_a_secret_in_any_namespace(release: Release) -> None:
    for account in ACCOUNTS:
        user = f"--as=system:serviceaccount:{CHART_NAMESPACE}:{RELEASE}-{account}"
        for verb in ("get", "list", "watch", "create"):
            assert not can_i(release.cluster, verb, "secrets", "--all-namespaces", user), (
                account,
                verb,
            )


def test_kubernetes_own_edit_and_view_roles_grant_mlkube_resources(release: Release) -> None:
    cluster = release.cluster
    for role in ("edit", "view"):
        cluster.kubectl(
            "create", "rolebinding", f"mlkube-{role}", f"--clusterrole={role}",
            f"--user={role}-user", "-n", NAMESPACE,
        )  # fmt: skip

    def may(user: str, verb: str, resource: str, namespace: str = NAMESPACE) -> bool:
        """The SubjectAccessReview the tracking server makes (`kubectl auth can-i` cannot name
        loggedmodels, which the API server does not serve)."""
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": user,
                "resourceAttributes": {
                    "namespace": namespace, "verb": verb, "group": "mlkube.io",
                    "resource": resource,
                },
            },
        }  # fmt: skip
        out = cluster.kubectl("create", "-o", "json", "-f", "-", stdin=json.dumps(review))
        return bool(json.loads(out)["status"].get("allowed"))

    # Aggregation into the built-in roles is done by a controller, soon after the install.
    eventually(lambda: may("view-user", "list", "loggedmodels"), timeout=60, what="aggregation")
    eventually(lambda: may("edit-user", "create", "loggedmodels"), timeout=60, what="aggregation")
    kinds = (
        "experiments", "runs", "registeredmodels", "modelversions", "modeldeployments", "sweeps"
    )  # fmt: skip
    for resource in (*kinds, "loggedmodels"):
        assert may("view-user", "get", resource)
        assert not may("view-user", "update", resource)
        assert may("edit-user", "update", resource)
        assert may("edit-user", "delete", resource)
        assert not may("edit-user", "get", resource, CHART_NAMESPACE)


def test_the_example_trains_and_registers_on_the_chart(release: Release) -> None:
    result = release.cluster.mlkube(
        "run", str(EXAMPLE), "-n", NAMESPACE, "--experiment", "elasticnet", "-P", "alpha=0.1",
        "--name", "chart-run", "--wait", "--timeout", "600",
        env=release.env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = release.cluster.get_json(NAMESPACE, "run", "chart-run")
    assert run["status"]["phase"] == "Succeeded"
    # Issue 14: its pod's output is an artifact, read and written with the chart's RBAC
    # (pods/log, and patch to take the operator's finalizer off the pod).
    saved = eventually(
        lambda: release.cluster.get_json(NAMESPACE, "run", "chart-run")["status"].get("podLogs"),
        timeout=60,
        what="the run's pod log",
    )
    assert [key for key in release.objects() if key.endswith("/artifacts/" + saved[0]["path"])]
    status = register(release, "diabetes-1", run["status"]["runId"])
    release.made.update(run_id=run["status"]["runId"], version=status["version"])


def test_deleting_the_minio_pod_loses_no_artifact_and_no_model(release: Release) -> None:
    before = release.objects()
    assert any("/models/diabetes/" in key for key in before)
    assert any("/artifacts/" in key for key in before)
    old = component_pods(release.cluster)["minio"]["metadata"]["uid"]
    release.cluster.kubectl(
        "delete",
        "pod",
        "-n",
        CHART_NAMESPACE,
        "-l",
        "app.kubernetes.io/component=minio",
        "--wait=true",
        "--timeout=120s",
    )

    def replaced() -> bool:
        pod = component_pods(release.cluster).get("minio")
        if pod is None or pod["metadata"]["uid"] == old:
            return False
        return all(c.get("ready") for c in pod["status"].get("containerStatuses", []))

    eventually(replaced, timeout=180, what="a new MinIO pod to be ready")
    assert eventually(lambda: release.objects() or None, timeout=60, what="MinIO") == before


def test_an_upgrade_that_changes_a_value_rolls_the_operator_and_loses_nothing(
    release: Release,
) -> None:
    cluster = release.cluster
    old = component_pods(cluster)["operator"]["metadata"]["uid"]
    objects = release.objects()
    helm(
        cluster,
        "upgrade",
        RELEASE,
        str(CHART),
        "-n",
        CHART_NAMESPACE,
        *chart_values(cluster),
        "--set",
        "operator.metricsPort=9191",
        "--wait",
        "--timeout=300s",
    )
    new = component_pods(cluster)["operator"]
    assert new["metadata"]["uid"] != old
    ports = [p["containerPort"] for p in new["spec"]["containers"][0]["ports"]]
    assert 9191 in ports
    run = cluster.get_json(NAMESPACE, "run", "chart-run")
    assert run["status"]["phase"] == "Succeeded"
    assert run["status"]["runId"] == release.made["run_id"]
    kept = cluster.get_json(NAMESPACE, "modelversion", "diabetes-1")["status"]
    assert (kept["phase"], kept["version"]) == ("Ready", release.made["version"])
    assert objects.items() <= release.objects().items()
    # The new operator works: the next version of the same run's model registers.
    assert register(release, "diabetes-2", release.made["run_id"])["version"] == 2


def test_a_release_watching_one_namespace_serves_it_and_refuses_others(release: Release) -> None:
    """With operator.watchNamespaces the server's rights are a Role in that namespace only: it
    must still start (its caches watch that namespace alone), answer there, and refuse others."""
    cluster = release.cluster
    helm(
        cluster, "upgrade", RELEASE, str(CHART), "-n", CHART_NAMESPACE, *chart_values(cluster),
        "--set", f"operator.watchNamespaces={{{NAMESPACE}}}", "--wait", "--timeout=300s",
    )  # fmt: skip
    server = f"{RELEASE}-server"
    assert ("experiments.mlkube.io", "") in granted(cluster, NAMESPACE, server)
    assert ("experiments.mlkube.io", "") not in granted(cluster, "default", server)
    assert ("namespaces", "") not in granted(cluster, CHART_NAMESPACE, server)
    (container,) = component_pods(cluster)["server"]["spec"]["containers"]
    assert {"name": "MLKUBE_WATCH_NAMESPACES", "value": NAMESPACE} in container["env"]

    uri = release.env["MLFLOW_TRACKING_URI"] + "/api/2.0/mlflow/experiments/search"
    token = {"Authorization": f"Bearer {release.env['MLFLOW_TRACKING_TOKEN']}"}

    def search(workspace: str) -> httpx.Response:
        headers = {**token, "X-MLFLOW-WORKSPACE": workspace}
        return httpx.post(uri, json={"max_results": 100}, headers=headers, timeout=30)

    served = search(NAMESPACE)
    assert served.status_code == 200, served.text
    names = {e["name"] for e in served.json()["experiments"]}
    assert "elasticnet" in names  # the run of the first test, seen through the namespace's watch
    refused = search("default")
    assert refused.status_code == 400, refused.text
    message = refused.json()["message"]
    assert "workspace 'default'" in message
    assert NAMESPACE in message
    assert "operator.watchNamespaces" in message
    listed = httpx.get(
        release.env["MLFLOW_TRACKING_URI"] + "/api/3.0/mlflow/workspaces", headers=token, timeout=30
    )
    assert listed.json() == {"workspaces": [{"name": NAMESPACE}]}


def test_uninstall_removes_the_release(release: Release) -> None:
    cluster = release.cluster
    helm(cluster, "uninstall", RELEASE, "-n", CHART_NAMESPACE, "--wait", "--timeout=180s")

    def gone() -> bool:
        left = cluster.get_json(
            CHART_NAMESPACE, "all", "-l", f"app.kubernetes.io/instance={RELEASE}"
        )
        return not left["items"]

    eventually(gone, timeout=120, what="the release's objects to go")
    assert json.loads(cluster.kubectl("get", "crd", "runs.mlkube.io", "-o", "json"))
