"""Issue 18: a Run with spec.workers trains on several pods (ranks of one Indexed Job) that find
each other through cluster DNS, is one MLflow run, and names the rank that failed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow.tracking import MlflowClient

from e2e.cluster.cluster import ROOT, LocalCluster
from e2e.cluster.waiting import eventually
from e2e.test_runs import ended

EXAMPLE = ROOT / "examples" / "distributed"
RUN = "distributed-3"


def example_manifests(**parameters: str) -> list[dict[str, Any]]:
    """examples/distributed/run.yaml, with extra parameters for its Run."""
    documents = list(yaml.safe_load_all((EXAMPLE / "run.yaml").read_text()))
    for document in documents:
        if document["kind"] == "Run":
            document["spec"]["parameters"].update(parameters)
    return documents


def logs_saved(cluster: LocalCluster, namespace: str, name: str) -> dict[str, Any]:
    """The Run's status once the operator has saved every pod's log (PodLogsSaved)."""

    def concluded() -> dict[str, Any] | None:
        status = cluster.get_json(namespace, "run", name)["status"]
        kinds = {c["type"]: c for c in status.get("conditions") or []}
        return status if kinds.get("PodLogsSaved", {}).get("status") == "True" else None

    return eventually(concluded, timeout=120, what=f"the pod logs of run {name}")


def test_three_ranks_train_as_one_run_and_agree(
    operator: LocalCluster,
    namespace: str,
    tracking_uri: str,
    *,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    operator.kubectl("apply", "-n", namespace, "-f", str(EXAMPLE / "run.yaml"))
    run = ended(operator, namespace, RUN, timeout=600)
    assert run["status"]["phase"] == "Succeeded", run["status"]
    assert run["status"]["message"] == "all 3 ranks exited 0"
    # One Job, Indexed, one pod per rank; the headless Service that named the ranks.
    assert operator.kubectl("get", "jobs", "-n", namespace, "-o", "name").split() == [
        f"job.batch/{RUN}"
    ]
    job = operator.get_json(namespace, "job", RUN)
    assert (job["spec"]["completionMode"], job["spec"]["completions"]) == ("Indexed", 3)
    assert job["status"]["succeeded"] == 3
    service = operator.get_json(namespace, "service", RUN)["spec"]
    assert (service["clusterIP"], service["publishNotReadyAddresses"]) == ("None", True)

    # Every rank's output is kept, and they all ended with the same weights.
    status = logs_saved(operator, namespace, RUN)
    assert len(status["podLogs"]) == 3
    monkeypatch.setenv("MLFLOW_WORKSPACE", namespace)
    client = MlflowClient(tracking_uri)
    finals: dict[int, dict[str, Any]] = {}
    for entry in status["podLogs"]:
        local = Path(client.download_artifacts(status["runId"], entry["path"], str(tmp_path)))
        lines = [ln for ln in local.read_text().splitlines() if ln.startswith("FINAL ")]
        assert len(lines) == 1, local.read_text()
        final = json.loads(lines[0].removeprefix("FINAL "))
        finals[final["rank"]] = final
    assert sorted(finals) == [0, 1, 2]
    assert len({f["digest"] for f in finals.values()}) == 1, finals
    assert len({f["loss"] for f in finals.values()}) == 1, finals
    assert sum(f["rows"] for f in finals.values()) == 1200  # each rank trained on its shard

    # One MLflow run: rank 0's, which logged; the other ranks only tagged their hosts.
    experiment = client.get_experiment_by_name("distributed")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert [r.info.run_id for r in runs] == [status["runId"]]
    logged = runs[0]
    assert logged.data.params["world_size"] == "3"
    assert logged.data.metrics["final_loss"] == pytest.approx(finals[0]["loss"])
    hosts = {k: v for k, v in logged.data.tags.items() if k.startswith("mlkube.rank.")}
    assert hosts == {f"mlkube.rank.{r}.host": f"{RUN}-{r}" for r in range(3)}


def test_a_rank_that_fails_fails_the_run_naming_it(operator: LocalCluster, namespace: str) -> None:
    operator.apply_objects(namespace, *example_manifests(fail_rank="2"))
    run = ended(operator, namespace, RUN, timeout=600)
    status = run["status"]
    assert status["phase"] == "Failed"
    message = status["message"]
    first = message.splitlines()[0]
    assert first.startswith(f"rank 2 (pod {RUN}-2-"), message
    assert "exited 1" in first
    assert "RuntimeError: rank 2 was asked to fail (--fail-rank 2)" in message
    assert operator.kubectl("get", "jobs", "-n", namespace, "-o", "name").split() == [
        f"job.batch/{RUN}"
    ]
    # The other ranks were stopped; every pod's output is still kept.
    assert len(logs_saved(operator, namespace, RUN)["podLogs"]) == 3
