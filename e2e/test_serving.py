"""Issue 8: train -> register -> serve by alias; move the alias without a failed request; canary.

One module-scoped flow: the elasticnet example trains twice (two alphas) as Runs, both models are
registered with kubectl, and a ModelDeployment serves the `champion` alias from the host through
its Service's ClusterIP.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from minio import Minio

from e2e.cluster.cluster import ROOT, LocalCluster
from e2e.cluster.waiting import eventually

EXAMPLE = ROOT / "examples" / "sklearn-elasticnet"
COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
ROWS = [
    [0.038, 0.050, 0.061, 0.021, -0.044, -0.034, -0.043, -0.002, 0.019, -0.017],
    [-0.001, -0.044, -0.051, -0.026, -0.008, -0.019, 0.074, -0.039, -0.068, -0.092],
]


@dataclass
class Flow:
    cluster: LocalCluster
    namespace: str
    versions: dict[int, float]  # version -> alpha


def train(cluster: LocalCluster, namespace: str, alpha: float) -> str:
    """Run the example as a Run; its MLflow run id once it succeeded."""
    name = f"train-{str(alpha).replace('.', '-')}"
    result = cluster.mlkube(
        "run", str(EXAMPLE), "-n", namespace, "--name", name, "--experiment", "serving",
        "-P", f"alpha={alpha}", "--wait", "--timeout", "600",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return str(cluster.get_json(namespace, "run", name)["status"]["runId"])


def register(cluster: LocalCluster, namespace: str, version_name: str, run_id: str) -> int:
    cluster.apply_objects(
        namespace,
        {
            "kind": "ModelVersion",
            "metadata": {"name": version_name},
            "spec": {"model": "diabetes", "source": f"runs:/{run_id}/model"},
        },
    )

    def ready() -> int | None:
        status = cluster.get_json(namespace, "modelversion", version_name).get("status") or {}
        assert status.get("phase") != "FailedRegistration", status
        return int(status["version"]) if status.get("phase") == "Ready" else None

    return eventually(ready, timeout=120, what=f"{version_name} to register")


def set_alias(cluster: LocalCluster, namespace: str, version: int) -> None:
    cluster.kubectl(
        "patch",
        "registeredmodel",
        "diabetes",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"aliases": {"champion": version}}}),
    )


def deployment_status(flow: Flow) -> dict[str, Any]:
    found = flow.cluster.get_json(flow.namespace, "modeldeployment", "diabetes")
    return dict(found.get("status") or {})


def predict(url: str, timeout: float = 10) -> list[float]:
    """One request on a new connection (the Service balances connections)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        body = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": ROWS}})
        connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {payload[:200]!r}")
        return [float(p) for p in json.loads(payload)["predictions"]]
    finally:
        connection.close()


def local_predictions(
    cluster: LocalCluster, namespace: str, version: int, tmp: Path
) -> list[float]:
    """What the registered model predicts when loaded here (mlkube.models, no server)."""
    import pandas as pd

    from mlkube.models.pyfunc import load_model

    client = Minio(
        cluster.s3.endpoint.removeprefix("http://"),
        access_key=cluster.s3.access_key,
        secret_key=cluster.s3.secret_key,
        secure=False,
    )
    prefix = f"{namespace}/models/diabetes/{version}/"
    target = tmp / f"v{version}"
    for obj in client.list_objects("mlkube", prefix=prefix, recursive=True):
        assert obj.object_name is not None
        client.fget_object("mlkube", obj.object_name, str(target / obj.object_name[len(prefix) :]))
    predictions = load_model(target).predict(pd.DataFrame(ROWS, columns=COLUMNS))
    return [float(p) for p in list(predictions)]


@pytest.fixture(scope="module")
def flow(operator: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    namespace = f"serving-{int(time.time()) % 100000}"
    operator.kubectl("create", "namespace", namespace)
    try:
        first = train(operator, namespace, 0.05)
        second = train(operator, namespace, 1.0)
        operator.apply_objects(
            namespace, {"kind": "RegisteredModel", "metadata": {"name": "diabetes"}}
        )
        v1 = register(operator, namespace, "diabetes-a", first)
        v2 = register(operator, namespace, "diabetes-b", second)
        set_alias(operator, namespace, v1)
        yield Flow(operator, namespace, {v1: 0.05, v2: 1.0})
    finally:
        operator.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_an_aliased_model_answers_like_the_model_loaded_locally(flow: Flow, tmp_path: Path) -> None:
    flow.cluster.apply_objects(
        flow.namespace,
        {
            "kind": "ModelDeployment",
            "metadata": {"name": "diabetes"},
            "spec": {"model": {"name": "diabetes", "alias": "champion"}, "replicas": 2},
        },
    )
    eventually(
        lambda: deployment_status(flow).get("phase") == "Ready",
        timeout=180,
        what="the deployment to be Ready",
    )
    status = deployment_status(flow)
    champion = min(flow.versions)
    assert status["servedVersion"] == champion
    assert status["readyReplicas"] == 2
    served = predict(status["url"])
    expected = local_predictions(flow.cluster, flow.namespace, champion, tmp_path)
    assert served == pytest.approx(expected, rel=1e-12)
    table = flow.cluster.kubectl("get", "modeldeployments", "-n", flow.namespace)
    assert table.splitlines()[0].split()[:5] == ["NAME", "MODEL", "SERVED", "READY", "URL"]


def test_moving_the_alias_rolls_out_without_a_failed_request(flow: Flow) -> None:
    status = deployment_status(flow)
    url = status["url"]
    old, new = min(flow.versions), max(flow.versions)
    assert status["servedVersion"] == old
    outcomes: Counter[str] = Counter()
    answers: set[tuple[float, ...]] = set()
    stop = threading.Event()

    def client() -> None:
        deadline = time.monotonic() + 300
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                answers.add(tuple(predict(url)))
                outcomes["ok"] += 1
            except Exception as err:  # every failure counts, whatever its kind
                outcomes[f"failed: {type(err).__name__}: {err}"] += 1
            time.sleep(0.02)

    sender = threading.Thread(target=client, daemon=True)
    sender.start()
    try:
        time.sleep(1)
        set_alias(flow.cluster, flow.namespace, new)
        eventually(
            lambda: (
                deployment_status(flow).get("servedVersion") == new
                and deployment_status(flow).get("phase") == "Ready"
            ),
            timeout=240,
            what="the new version to be served",
        )
        time.sleep(2)  # requests after the rollout too
    finally:
        stop.set()
        sender.join(timeout=30)
    failed = {k: v for k, v in outcomes.items() if k != "ok"}
    assert failed == {}, failed
    assert outcomes["ok"] > 20
    assert len(answers) == 2  # both versions answered during the rollout


def test_a_canary_at_twenty_percent_gets_about_a_fifth_of_requests(flow: Flow) -> None:
    stable, canary = max(flow.versions), min(flow.versions)  # the alias now names the newer one
    flow.cluster.kubectl(
        "patch",
        "modeldeployment",
        "diabetes",
        "-n",
        flow.namespace,
        "--type=merge",
        "-p",
        json.dumps(
            {
                "spec": {
                    "replicas": 1,
                    "canary": {
                        "model": {"name": "diabetes", "version": canary},
                        "trafficPercent": 20,
                    },
                }
            }
        ),
    )
    eventually(
        lambda: (
            deployment_status(flow).get("canaryVersion") == canary
            and deployment_status(flow).get("phase") == "Ready"
            and deployment_status(flow).get("readyReplicas") == 5
        ),
        timeout=240,
        what="4 stable and 1 canary pods to be ready",
    )
    url = deployment_status(flow)["url"]
    first = {tuple(predict(url)) for _ in range(40)}
    assert len(first) == 2
    counts: Counter[tuple[float, ...]] = Counter(tuple(predict(url)) for _ in range(500))
    by_version = dict(counts)
    assert len(by_version) == 2
    canary_share = min(by_version.values()) / 500
    # 500 draws at p=0.2: the standard deviation is ~0.018; allow a wide band.
    assert 0.12 <= canary_share <= 0.28, (stable, canary, by_version)
