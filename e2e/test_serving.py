"""Issue 8: train -> register -> serve by alias; move the alias without a failed request; canary.
Issue 14: a served version's tags (what MLflow's UI shows) name the deployments that serve it.

The module trains the elasticnet example twice (two alphas) as Runs and registers both models with
kubectl, once; each test then sets its own alias and applies its own ModelDeployment (deleted
after it), served from the host through its Service's ClusterIP, so any test runs alone.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from mlflow.tracking import MlflowClient

from e2e.cluster.cluster import ROOT, LocalCluster
from e2e.cluster.waiting import eventually
from e2e.scoring import COLUMNS, ROWS, local_predictions

EXAMPLE = ROOT / "examples" / "sklearn-elasticnet"
DEPLOYMENTS_TAG = "mlkube.deployments"


@dataclass
class Flow:
    """Two trained and registered versions of `diabetes`; each test aliases and deploys them."""

    cluster: LocalCluster
    namespace: str
    versions: dict[int, float]  # version -> alpha
    tracking_uri: str

    def status(self, deployment: str) -> dict[str, Any]:
        found = self.cluster.get_json(self.namespace, "modeldeployment", deployment)
        return dict(found.get("status") or {})

    def ready(self, deployment: str, timeout: float, **expected: object) -> dict[str, Any]:
        """Wait for the deployment to be Ready with the expected status fields; its status.
        On a timeout, say what the status and the namespace's pods were instead."""
        wanted = {"phase": "Ready", **expected}
        seen: list[dict[str, Any]] = [{}]

        def check() -> dict[str, Any] | None:
            seen.append(self.status(deployment))
            return seen[-1] if all(seen[-1].get(k) == v for k, v in wanted.items()) else None

        try:
            return eventually(check, timeout=timeout, what=f"{deployment} to be {wanted}")
        except TimeoutError as err:
            pods = self.cluster.kubectl("get", "pods", "-n", self.namespace, "-o", "wide")
            raise AssertionError(f"{err}; its status: {seen[-1]}; pods:\n{pods}") from None


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


def set_alias(cluster: LocalCluster, namespace: str, alias: str, version: int) -> None:
    """Point one alias of `diabetes` at a version (a merge patch leaves the other aliases)."""
    cluster.kubectl(
        "patch",
        "registeredmodel",
        "diabetes",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"aliases": {alias: version}}}),
    )


def predict(url: str, timeout: float = 10) -> list[float]:
    """One request on a new connection (the Service balances connections)."""
    parts = urlsplit(url)
    if parts.hostname is None:
        raise ValueError(f"status.url of the deployment has no host: {url!r}")
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


@pytest.fixture(scope="module")
def flow(operator: LocalCluster, tracking_uri: str) -> Iterator[Flow]:
    """Both versions trained and registered once per module; no alias yet (each test sets its
    own, so any test runs alone)."""
    namespace = f"serving-{uuid.uuid4().hex[:8]}"
    operator.kubectl("create", "namespace", namespace)
    try:
        first = train(operator, namespace, 0.05)
        second = train(operator, namespace, 1.0)
        operator.apply_objects(
            namespace, {"kind": "RegisteredModel", "metadata": {"name": "diabetes"}}
        )
        v1 = register(operator, namespace, "diabetes-a", first)
        v2 = register(operator, namespace, "diabetes-b", second)
        yield Flow(operator, namespace, {v1: 0.05, v2: 1.0}, tracking_uri)
    finally:
        operator.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


Deploy = Callable[[str, dict[str, Any]], None]


@pytest.fixture
def deploy(flow: Flow) -> Iterator[Deploy]:
    """Apply a ModelDeployment of `diabetes` (name, spec); deleted after the test, so the next
    test's pods do not share the node with this one's."""
    made: list[str] = []

    def apply(name: str, spec: dict[str, Any]) -> None:
        flow.cluster.apply_objects(
            flow.namespace, {"kind": "ModelDeployment", "metadata": {"name": name}, "spec": spec}
        )
        made.append(name)

    yield apply
    for name in made:
        flow.cluster.kubectl(
            "delete", "modeldeployment", name, "-n", flow.namespace, "--timeout=120s", check=False
        )


def deployments_tag(flow: Flow, version: int) -> str | None:
    """The version's tag mlkube.deployments as the stock mlflow client gets it (issue 14)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_WORKSPACE", flow.namespace)
        found = MlflowClient(flow.tracking_uri).get_model_version("diabetes", str(version))
    return found.tags.get(DEPLOYMENTS_TAG)


def test_an_aliased_model_answers_like_the_model_loaded_locally(
    flow: Flow, deploy: Deploy, tmp_path: Path
) -> None:
    champion = min(flow.versions)
    set_alias(flow.cluster, flow.namespace, "champion", champion)
    deploy("answers", {"model": {"name": "diabetes", "alias": "champion"}, "replicas": 2})
    status = flow.ready("answers", timeout=180, readyReplicas=2)
    assert status["servedVersion"] == champion
    # The version's page in MLflow's UI shows its tags: this one says who serves it (once the
    # server's watch has seen the status kubectl just read).
    served = "answers (stable, 100%, @champion)"
    eventually(lambda: deployments_tag(flow, champion) == served, timeout=30, what="the tag")
    assert deployments_tag(flow, max(flow.versions)) is None
    served = predict(status["url"])
    expected = local_predictions(flow.cluster, flow.namespace, champion, tmp_path)
    assert served == pytest.approx(expected, rel=1e-12)
    table = flow.cluster.kubectl("get", "modeldeployments", "-n", flow.namespace)
    assert table.splitlines()[0].split()[:5] == ["NAME", "MODEL", "SERVED", "READY", "URL"]
    # Its pods take connections on the model port only (the API server accepted the policy).
    policy = flow.cluster.get_json(flow.namespace, "networkpolicy", "answers")["spec"]
    assert policy["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8080}]}]


def test_moving_the_alias_rolls_out_without_a_failed_request(flow: Flow, deploy: Deploy) -> None:
    old, new = min(flow.versions), max(flow.versions)
    set_alias(flow.cluster, flow.namespace, "rollout", old)
    deploy("rollout", {"model": {"name": "diabetes", "alias": "rollout"}, "replicas": 2})
    url = flow.ready("rollout", timeout=180, servedVersion=old, readyReplicas=2)["url"]
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
            stop.wait(0.02)  # a steady trickle, not a flood on a two-core node

    sender = threading.Thread(target=client, daemon=True)
    sender.start()
    try:
        eventually(lambda: outcomes["ok"] >= 5, timeout=60, what="requests before the rollout")
        set_alias(flow.cluster, flow.namespace, "rollout", new)
        flow.ready("rollout", timeout=240, servedVersion=new)
        after = outcomes["ok"] + 20
        eventually(lambda: outcomes["ok"] >= after, timeout=60, what="requests after the rollout")
    finally:
        stop.set()
        sender.join(timeout=30)
    failed = {k: v for k, v in outcomes.items() if k != "ok"}
    assert failed == {}, failed
    assert len(answers) == 2  # both versions answered during the rollout


def test_a_canary_at_twenty_percent_gets_about_a_fifth_of_requests(
    flow: Flow, deploy: Deploy
) -> None:
    stable, canary = max(flow.versions), min(flow.versions)
    set_alias(flow.cluster, flow.namespace, "stable", stable)
    deploy(
        "canary",
        {
            "model": {"name": "diabetes", "alias": "stable"},
            "replicas": 1,
            "canary": {"model": {"name": "diabetes", "version": canary}, "trafficPercent": 20},
        },
    )
    # One replica at 20 %: four stable pods and one canary pod.
    status = flow.ready("canary", timeout=420, canaryVersion=canary, readyReplicas=5)
    assert status["servedVersion"] == stable
    eventually(
        lambda: deployments_tag(flow, canary) == "canary (canary, 20%)", timeout=30, what="the tag"
    )
    assert deployments_tag(flow, stable) == "canary (stable, 80%, @stable)"
    url = status["url"]
    first = {tuple(predict(url)) for _ in range(40)}
    assert len(first) == 2
    counts: Counter[tuple[float, ...]] = Counter(tuple(predict(url)) for _ in range(500))
    by_version = dict(counts)
    assert len(by_version) == 2
    canary_share = min(by_version.values()) / 500
    # 500 draws at p=0.2: the standard deviation is ~0.018; allow a wide band.
    assert 0.12 <= canary_share <= 0.28, (stable, canary, by_version)
