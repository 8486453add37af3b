"""Issue 12: two tracking-server replicas behind one Service see the same data.

The chart on a cluster of its own with ``server.replicas=2``: its Service balances connections
between the two pods, and the tests also talk to each pod by its IP, so "written through A, read
through B" is deterministic rather than up to the balancer. A replica's reads may trail another
replica's writes by a watch event, so each cross-replica read is polled for a few seconds; what
never converges (a per-process cache that is not invalidated) fails the test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from e2e.cluster.cluster import LocalCluster
from e2e.cluster.identities import local_user_token
from e2e.cluster.platform import CHART_NAMESPACE, install_chart
from e2e.cluster.waiting import eventually

NAMESPACE = "team-replicas"
# How long a replica may trail another one's write (a watch event, a cache refresh).
CONVERGE = 20.0
T = TypeVar("T")
View = tuple[str, str, dict[str, str]]  # a logged model as a user reads it: name, status, tags


@dataclass
class Replicas:
    service: MlflowClient  # through the Service, as users reach the server
    a: MlflowClient  # the first pod, by its IP
    b: MlflowClient  # the second pod, by its IP

    def each(self) -> dict[str, MlflowClient]:
        return {"replica a": self.a, "replica b": self.b, "the Service": self.service}


def server_pods(cluster: LocalCluster) -> list[str] | None:
    """The URLs of the ready tracking-server pods, by pod IP; None until there are two."""
    selector = "app.kubernetes.io/component=server"
    pods = cluster.get_json(CHART_NAMESPACE, "pods", "-l", selector)["items"]
    urls = []
    for pod in pods:
        status = pod["status"]
        if status.get("phase") != "Running" or "deletionTimestamp" in pod["metadata"]:
            continue
        if not all(c.get("ready") for c in status.get("containerStatuses", [])):
            continue
        port = pod["spec"]["containers"][0]["ports"][0]["containerPort"]
        urls.append(f"http://{status['podIP']}:{port}")
    return sorted(urls) if len(urls) == 2 else None


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch
) -> Iterator[Replicas]:
    cluster = LocalCluster(tmp_path_factory.mktemp("replicas-cluster"))
    try:
        cluster.start()
        urls = install_chart(cluster, "--set", "server.replicas=2")
        first, second = eventually(
            lambda: server_pods(cluster), timeout=120, what="two ready tracking-server pods"
        )
        cluster.kubectl("create", "namespace", NAMESPACE)
        monkeypatch_module.setenv("MLFLOW_WORKSPACE", NAMESPACE)
        # This module's own cluster: the session's token is another API server's.
        monkeypatch_module.setenv("MLFLOW_TRACKING_TOKEN", local_user_token(cluster))
        service = urls["MLFLOW_TRACKING_URI"]
        yield Replicas(MlflowClient(service), MlflowClient(first), MlflowClient(second))
    finally:
        cluster.stop()


def agrees(read: Callable[[], T], expected: T, what: str) -> None:
    """``read()`` comes to equal ``expected`` within CONVERGE seconds; else fail showing both.
    An MLflow error (a replica that does not know the object yet) counts as not yet."""
    seen: list[object] = []

    def check() -> bool:
        try:
            seen.append(read())
        except MlflowException as err:
            seen.append(f"{err.error_code}: {err.message}")
        return seen[-1] == expected

    try:
        eventually(check, timeout=CONVERGE, what=what)
        return
    except TimeoutError:
        pass  # fail below, without the TimeoutError's traceback in front of the difference
    pytest.fail(f"{what}: still {seen[-1]!r} after {CONVERGE:.0f}s, expected {expected!r}")


def experiment_on_both(replicas: Replicas, name: str) -> str:
    """An experiment made through replica a, once replica b knows it too."""
    experiment_id = replicas.a.create_experiment(f"{name}-{uuid.uuid4().hex[:6]}")
    agrees(
        lambda: replicas.b.get_experiment(experiment_id).experiment_id,
        experiment_id,
        f"replica b's get of experiment {experiment_id}",
    )
    return experiment_id


def model_view(model: Any) -> View:
    """What a user reads of a logged model: name, status and the tags they set."""
    tags = {k: v for k, v in model.tags.items() if not k.startswith("mlflow.")}
    return model.name, str(model.status), tags


def got(client: MlflowClient, model_id: str) -> View:
    return model_view(client.get_logged_model(model_id))


def found(client: MlflowClient, experiment_id: str) -> dict[str, View]:
    """Every logged model of the experiment that `search_logged_models` returns, by id."""
    return {m.model_id: model_view(m) for m in client.search_logged_models([experiment_id])}


@contextmanager
def tracking_at(uri: str) -> Iterator[None]:
    """The fluent API (mlflow.start_run, log_model, load_model) talks to ``uri`` inside."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # None unsets it (mlflow 3)


def test_a_run_logged_through_both_replicas_reads_the_same_through_each(
    replicas: Replicas,
) -> None:
    a, b = replicas.a, replicas.b
    experiment_id = experiment_on_both(replicas, "replicas-runs")
    run_id = a.create_run(experiment_id).info.run_id
    agrees(lambda: b.get_run(run_id).info.run_id, run_id, f"replica b's get of run {run_id}")
    for step, client in enumerate([a, b, a, b]):
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
    b.log_param(run_id, "alpha", "0.5")
    a.set_tag(run_id, "written_by", "a")
    b.set_terminated(run_id)
    history = [(s, 1.0 / (s + 1)) for s in range(4)]  # (step, value)
    expected = ("FINISHED", {"loss": 0.25}, {"alpha": "0.5"}, "a", history)

    def view(client: MlflowClient) -> tuple[Any, ...]:
        run = client.get_run(run_id)
        points = sorted((m.step, m.value) for m in client.get_metric_history(run_id, "loss"))
        tag = run.data.tags.get("written_by")
        return run.info.status, run.data.metrics, run.data.params, tag, points

    for where, client in replicas.each().items():
        agrees(partial(view, client), expected, f"the run through {where}")


def test_logged_models_made_through_either_replica_are_searched_and_got_through_each(
    replicas: Replicas,
) -> None:
    a, b = replicas.a, replicas.b
    experiment_id = experiment_on_both(replicas, "replicas-models")
    # Both replicas have answered a search of the experiment before any model exists, as a
    # long-running server has: whatever they keep from it must not hide later models.
    assert found(a, experiment_id) == found(b, experiment_id) == {}

    made_on_a = a.create_logged_model(experiment_id, name="from-a", tags={"by": "a"})
    pending_a = ("from-a", "PENDING", {"by": "a"})
    # The search first: a get by id could fill a cache that the search then reads.
    agrees(partial(found, b, experiment_id), {made_on_a.model_id: pending_a}, "b's search")
    agrees(partial(got, b, made_on_a.model_id), pending_a, "b's get of a's model")

    made_on_b = b.create_logged_model(experiment_id, name="from-b", tags={"by": "b"})
    pending_b = ("from-b", "PENDING", {"by": "b"})
    both = {made_on_a.model_id: pending_a, made_on_b.model_id: pending_b}
    agrees(partial(found, a, experiment_id), both, "a's search after b made one")
    agrees(partial(got, a, made_on_b.model_id), pending_b, "a's get of b's model")
    agrees(partial(found, replicas.service, experiment_id), both, "the search through the Service")


def test_logged_models_changed_through_one_replica_read_the_same_through_each(
    replicas: Replicas,
) -> None:
    a, b = replicas.a, replicas.b
    experiment_id = experiment_on_both(replicas, "replicas-changes")
    made_on_a = a.create_logged_model(experiment_id, name="from-a", tags={"by": "a"})
    made_on_b = b.create_logged_model(experiment_id, name="from-b", tags={"by": "b"})
    # Both replicas have read both models before they change.
    for where, client in {"replica a": a, "replica b": b}.items():
        before = {"from-a": made_on_a, "from-b": made_on_b}
        for name, model in before.items():
            view = (name, "PENDING", {"by": name[-1]})
            agrees(partial(got, client, model.model_id), view, f"{name} through {where}")

    # Each model changes through the replica that did not make it.
    b.set_logged_model_tags(made_on_a.model_id, {"reviewed": "on-b"})
    b.finalize_logged_model(made_on_a.model_id, "READY")
    a.set_logged_model_tags(made_on_b.model_id, {"reviewed": "on-a"})
    a.finalize_logged_model(made_on_b.model_id, "FAILED")
    changed = {
        made_on_a.model_id: ("from-a", "READY", {"by": "a", "reviewed": "on-b"}),
        made_on_b.model_id: ("from-b", "FAILED", {"by": "b", "reviewed": "on-a"}),
    }
    for where, client in replicas.each().items():
        for model_id, expected in changed.items():
            agrees(partial(got, client, model_id), expected, f"get {model_id} through {where}")
        agrees(partial(found, client, experiment_id), changed, f"the search through {where}")


def test_log_model_through_one_replica_is_found_and_loaded_through_the_other(
    replicas: Replicas,
) -> None:
    import mlflow
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LinearRegression

    a, b = replicas.a, replicas.b
    experiment_id = experiment_on_both(replicas, "replicas-log-model")
    assert found(b, experiment_id) == {}
    x = np.array([[0.0], [1.0], [2.0]])
    with tracking_at(a.tracking_uri), mlflow.start_run(experiment_id=experiment_id):
        info = mlflow.sklearn.log_model(LinearRegression().fit(x, 3 * x[:, 0]), name="model")
    view: View = ("model", "READY", {})
    agrees(partial(found, b, experiment_id), {info.model_id: view}, "b's search after a's log")
    agrees(partial(got, b, info.model_id), view, "b's get_logged_model after a's log_model")
    with tracking_at(b.tracking_uri):
        model = mlflow.sklearn.load_model(f"models:/{info.model_id}")
    assert model.predict([[4.0]])[0] == pytest.approx(12.0)
