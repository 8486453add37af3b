"""Issue 6: Runs execute MLflow projects as Jobs on the local stack, and say what happened."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from e2e.cluster.cluster import ROOT, LocalCluster
from e2e.cluster.platform import OPERATOR, operator_service
from e2e.cluster.waiting import eventually

EXAMPLE = ROOT / "examples" / "sklearn-elasticnet"
TERMINAL = {"Succeeded", "Failed", "Killed"}
PROJECT_TAGS = (
    "mlflow.source.type",
    "mlflow.source.name",
    "mlflow.source.git.commit",
    "mlflow.project.entryPoint",
    "mlflow.project.env",
    "mlflow.project.backend",
    "mlflow.user",
    "mlkube.kubernetes.namespace",
    "mlkube.kubernetes.job",
    "mlkube.kubernetes.image",
    "mlkube.kubernetes.phase",
)

SCRATCH_MLPROJECT = """\
name: scratch
entry_points:
  main:
    parameters:
      rate: {type: float, default: 0.1}
    command: "python ok.py {rate}"
  fail:
    command: "python fail.py"
  sleep:
    parameters:
      seconds: {type: int, default: 600}
    command: "python sleep.py {seconds}"
  hog:
    command: "python hog.py"
  artifacts:
    command: "python artifacts.py"
"""
# A plain Debian bookworm python3 (with python3-venv), built by `make images`: no mlkube, no
# mlflow, no scikit-learn (issue 11: a Run's image needs only Python).
PLAIN_PYTHON = "mlkube/debian-python:0.1.0"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny project: one entry point that succeeds, one that fails, one that sleeps."""
    root = tmp_path_factory.mktemp("scratch")
    (root / "MLproject").write_text(SCRATCH_MLPROJECT)
    (root / "ok.py").write_text("import sys\nprint('rate is', sys.argv[1])\n")
    (root / "fail.py").write_text(
        textwrap.dedent(
            """\
            print("loading data")
            def train():
                raise ValueError("label column 'price' not found in data.csv")
            train()
            """
        )
    )
    (root / "sleep.py").write_text(
        "import sys, time\nprint('sleeping', flush=True)\ntime.sleep(int(sys.argv[1]))\n"
    )
    # Really touches its pages (a bare bytearray(n) may stay unbacked zero pages).
    (root / "hog.py").write_text(
        "held = []\nfor i in range(64):\n"
        "    held.append(bytearray(b'x') * (16 * 2**20))\n"
        "    print('holding', 16 * (i + 1), 'MiB', flush=True)\n"
    )
    (root / "artifacts.py").write_text(ARTIFACTS_PY)
    return root


# Every artifact call of the stock client from inside a Run's pod, which holds no object-store
# credentials: all of them go through the tracking server's artifact proxy (issue 12).
# matplotlib comes with mlflow into the runtime image; Agg draws without a display.
ARTIFACTS_PY = """\
import pathlib
import tempfile

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
import mlflow.sklearn
import numpy as np
from sklearn.linear_model import LinearRegression

with mlflow.start_run():
    mlflow.set_tag("seen_artifact_uri", mlflow.get_artifact_uri())
    work = pathlib.Path(tempfile.mkdtemp())
    (work / "notes.txt").write_text("one file\\n")
    mlflow.log_artifact(str(work / "notes.txt"))
    (work / "tree" / "sub").mkdir(parents=True)
    (work / "tree" / "a.csv").write_text("x,y\\n1,2\\n")
    (work / "tree" / "sub" / "b.txt").write_text("nested\\n")
    mlflow.log_artifacts(str(work / "tree"), artifact_path="data")
    mlflow.log_dict({"alpha": 0.5}, "config/params.json")
    mlflow.log_text("hello from the pod", "text/hello.txt")
    figure, axes = plt.subplots()
    axes.plot([0, 1, 2], [0, 2, 4])
    mlflow.log_figure(figure, "plots/line.png")
    x = np.array([[0.0], [1.0], [2.0]])
    mlflow.sklearn.log_model(LinearRegression().fit(x, 2 * x[:, 0]), name="model")
print("logged", flush=True)
"""


def mlkube_run(cluster: LocalCluster, namespace: str, *args: str) -> str:
    """`mlkube run ... -n namespace`; returns the created Run's name."""
    result = cluster.mlkube("run", "-n", namespace, *args, timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
    created = next(line for line in result.stdout.splitlines() if " created in namespace " in line)
    return created.split()[0].removeprefix("run/")


def phase(cluster: LocalCluster, namespace: str, name: str) -> str | None:
    return (cluster.get_json(namespace, "run", name).get("status") or {}).get("phase")


def ended(cluster: LocalCluster, namespace: str, name: str, timeout: float = 300) -> dict[str, Any]:
    eventually(
        lambda: phase(cluster, namespace, name) in TERMINAL,
        timeout=timeout,
        what=f"run {name} to end",
    )
    return cluster.get_json(namespace, "run", name)


def test_the_example_trains_logs_and_succeeds(
    operator: LocalCluster, namespace: str, tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = mlkube_run(
        operator,
        namespace,
        str(EXAMPLE),
        "--experiment",
        "elasticnet",
        "-P",
        "alpha=0.3",
        "--name",
        "elasticnet-a",
    )
    run = ended(operator, namespace, name, timeout=600)
    status = run["status"]
    assert status["phase"] == "Succeeded", status
    assert status["startTime"] <= status["endTime"]
    assert status["duration"]
    # Its pods took connections from the same Run's pods only (the API server accepted it).
    policy = operator.get_json(namespace, "networkpolicy", status["jobName"])["spec"]
    assert policy["podSelector"] == {"matchLabels": {"mlkube.io/run": name}}
    # What the code logged reached the Run through the tracking server.
    assert status["params"]["alpha"] == "0.3"
    assert set(status["metrics"]) >= {"rmse", "mae", "r2", "train_r2"}
    monkeypatch.setenv("MLFLOW_WORKSPACE", namespace)  # the namespace is the MLflow workspace
    client = MlflowClient(tracking_uri)
    logged = client.get_run(status["runId"])
    assert logged.data.params["l1_ratio"] == "0.1"
    assert len(client.get_metric_history(status["runId"], "train_r2")) == 4
    # The tags `mlflow run` sets, and the Kubernetes facts, as the MLflow UI reads them (issue 14).
    tags = logged.data.tags
    head = subprocess.run(
        ["git", "-C", str(EXAMPLE), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    whoami = operator.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert {k: tags.get(k) for k in PROJECT_TAGS} == {
        "mlflow.source.type": "PROJECT",
        "mlflow.source.name": run["spec"]["project"]["uri"],
        "mlflow.source.git.commit": head,  # the checkout `mlkube run` packed
        "mlflow.project.entryPoint": "main",
        "mlflow.project.env": "virtualenv",  # the example's MLproject has a python_env
        "mlflow.project.backend": "kubernetes",
        "mlflow.user": whoami,
        "mlkube.kubernetes.namespace": namespace,
        "mlkube.kubernetes.job": status["jobName"],
        "mlkube.kubernetes.image": status["image"],
        "mlkube.kubernetes.phase": "Succeeded",
    }
    assert logged.info.user_id == whoami
    job = operator.get_json(namespace, "job", status["jobName"])
    main = next(c for c in job["spec"]["template"]["spec"]["containers"] if c["name"] == "main")
    assert status["image"] == main["image"]
    table = operator.kubectl("get", "runs", "-n", namespace)
    header, row = table.splitlines()
    assert header.split() == ["NAME", "EXPERIMENT", "PHASE", "STARTED", "DURATION", "AGE"]
    assert row.split()[:3] == [name, "elasticnet", "Succeeded"]
    experiment = json.loads(
        operator.kubectl("get", "experiment", "elasticnet", "-n", namespace, "-o", "json")
    )
    assert experiment["status"]["experimentId"] == logged.info.experiment_id

    def counted() -> dict[str, int] | None:
        status = operator.get_json(namespace, "experiment", "elasticnet").get("status") or {}
        got = {k: status.get(k) for k in ("runs", "succeededRuns", "activeRuns", "failedRuns")}
        return got if got["succeededRuns"] == 1 else None

    # The tracking server writes the counts (docs/architecture.md), from its cache of every Run.
    counts = eventually(counted, timeout=60, what="the experiment's run counts")
    assert counts == {"runs": 1, "succeededRuns": 1, "activeRuns": 0, "failedRuns": 0}


def test_a_parameter_of_the_wrong_type_fails_naming_it(
    operator: LocalCluster, namespace: str, scratch: Path
) -> None:
    name = mlkube_run(operator, namespace, str(scratch), "-P", "rate=fast")
    run = ended(operator, namespace, name)
    assert run["status"]["phase"] == "Failed"
    assert run["status"]["message"] == "parameter 'rate': expected float, got 'fast'"
    wide = operator.kubectl("get", "run", name, "-n", namespace, "-o", "wide")
    assert "parameter 'rate': expected float, got 'fast'" in wide
    described = operator.kubectl("describe", "run", name, "-n", namespace)
    assert "Warning  Failed" in described


def test_an_unknown_entry_point_fails_naming_it(
    operator: LocalCluster, namespace: str, scratch: Path
) -> None:
    name = mlkube_run(operator, namespace, str(scratch), "-e", "trian")
    run = ended(operator, namespace, name)
    assert run["status"]["phase"] == "Failed"
    assert "entry point 'trian' is not defined in the MLproject" in run["status"]["message"]


def test_code_that_exits_non_zero_fails_with_the_tail_of_its_error(
    operator: LocalCluster, namespace: str, scratch: Path
) -> None:
    name = mlkube_run(operator, namespace, str(scratch), "-e", "fail")
    run = ended(operator, namespace, name)
    assert run["status"]["phase"] == "Failed"
    message = run["status"]["message"]
    # The exception line first, then the tail of the output (issue 12).
    first, _, rest = message.partition("\n")
    assert first == "ValueError: label column 'price' not found in data.csv"
    assert rest.startswith("exit code 1: ")
    assert "Traceback (most recent call last):" in rest


def test_a_failed_runs_output_outlives_its_pods(
    operator: LocalCluster,
    namespace: str,
    scratch: Path,
    tracking_uri: str,
    *,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 14: each pod's log is an artifact of the run, kept after the Job's TTL deleted the
    Job and its pods at once; a retry is a second attempt."""
    from mlkube.projects.archive import upload

    uri = upload(scratch, {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}, namespace)
    operator.apply_objects(
        namespace,
        {
            "kind": "Run",
            "metadata": {"name": "gone"},
            "spec": {
                "experiment": "default",
                "project": {"uri": uri},
                "entryPoint": "fail",
                "backoffLimit": 1,
                "ttlSecondsAfterFinished": 0,
            },
        },
    )
    run = ended(operator, namespace, "gone")
    assert run["status"]["phase"] == "Failed"

    def pods_gone() -> bool:
        selector = "mlkube.io/run=gone"
        return operator.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "name") == ""

    eventually(pods_gone, timeout=120, what="the TTL controller to delete the Job and its pods")

    def concluded() -> dict[str, Any] | None:
        status = operator.get_json(namespace, "run", "gone")["status"]
        kinds = {c["type"]: c for c in status.get("conditions") or []}
        return status if kinds.get("PodLogsSaved", {}).get("status") == "True" else None

    status = eventually(concluded, timeout=60, what="the run's PodLogsSaved condition")
    saved = status["podLogs"]
    assert [e["attempt"] for e in saved] == [1, 2]
    assert all(e["path"] == f"mlkube/pod-logs/attempt-{e['attempt']}-{e['pod']}.log" for e in saved)
    monkeypatch.setenv("MLFLOW_WORKSPACE", namespace)
    client = MlflowClient(tracking_uri)
    listed = client.list_artifacts(status["runId"], "mlkube/pod-logs")
    assert sorted(f.path for f in listed) == sorted(e["path"] for e in saved)
    for entry in saved:
        local = Path(client.download_artifacts(status["runId"], entry["path"], str(tmp_path)))
        text = local.read_text()
        # The container's own log, read before the pod went (no note of a fallback).
        assert "loading data" in text.splitlines(), text
        assert not [line for line in text.splitlines() if line.startswith("[mlkube: ")], text
        assert "ValueError: label column 'price' not found in data.csv" in text
        assert not entry["truncated"]


def pods_running(cluster: LocalCluster, namespace: str, job: str) -> list[str]:
    return cluster.kubectl(
        "get",
        "pods",
        "-n",
        namespace,
        "-l",
        f"job-name={job}",
        "--field-selector=status.phase=Running",
        "-o",
        "name",
    ).split()


def test_suspend_kills_a_running_run_and_delete_removes_its_job(
    operator: LocalCluster, namespace: str, scratch: Path
) -> None:
    name = mlkube_run(operator, namespace, str(scratch), "-e", "sleep")
    eventually(
        lambda: phase(operator, namespace, name) == "Running", timeout=120, what="the run to start"
    )
    operator.kubectl(
        "patch", "run", name, "-n", namespace, "--type=merge", "-p", '{"spec":{"suspend":true}}'
    )
    run = ended(operator, namespace, name, timeout=120)
    assert run["status"]["phase"] == "Killed"
    eventually(
        lambda: not pods_running(operator, namespace, name), timeout=60, what="the pod to stop"
    )
    operator.kubectl("delete", "run", name, "-n", namespace)
    eventually(
        lambda: operator.kubectl("get", "jobs", "-n", namespace, "-o", "name") == "",
        timeout=60,
        what="the garbage collector to delete the Job",
    )


def test_restarting_the_operator_mid_run_keeps_one_job(
    operator: LocalCluster, namespace: str, scratch: Path, tracking_uri: str
) -> None:
    name = mlkube_run(operator, namespace, str(scratch), "-e", "sleep", "-P", "seconds=8")
    eventually(
        lambda: phase(operator, namespace, name) == "Running", timeout=120, what="the run to start"
    )
    operator.supervisor.stop([OPERATOR])
    try:
        eventually(
            lambda: (
                operator.kubectl(
                    "get", "job", name, "-n", namespace, "-o", "jsonpath={.status.succeeded}"
                )
                == "1"
            ),
            timeout=120,
            what="the Job to finish while the operator is down",
        )
        assert phase(operator, namespace, name) == "Running"  # nobody has looked yet
    finally:
        operator.supervisor.start(operator_service(operator, tracking_uri))
    run = ended(operator, namespace, name, timeout=120)
    assert run["status"]["phase"] == "Succeeded"
    assert operator.kubectl("get", "jobs", "-n", namespace, "-o", "name").split() == [
        f"job.batch/{name}"
    ]


def test_the_example_manifests_apply_and_train(operator: LocalCluster, namespace: str) -> None:
    """examples/sklearn-elasticnet/run.yaml names the copy inside the mlkube runtime image."""
    operator.kubectl("apply", "-n", namespace, "-f", str(EXAMPLE / "run.yaml"))
    run = ended(operator, namespace, "elasticnet-alpha-0-5", timeout=600)
    assert run["status"]["phase"] == "Succeeded", run["status"]
    assert run["status"]["params"]["alpha"] == "0.5"
    assert run["spec"]["experiment"] == "elasticnet"


def test_a_run_past_its_memory_limit_fails_oomkilled(
    operator: LocalCluster, namespace: str, scratch: Path
) -> None:
    """Limits are real on this node: the kernel kills the run's code in its cgroup."""
    from mlkube.projects.archive import upload

    tracking = (operator.state / "tracking-uri").read_text().strip()
    uri = upload(scratch, {**os.environ, "MLFLOW_TRACKING_URI": tracking}, namespace)
    operator.apply_objects(
        namespace,
        {
            "kind": "Run",
            "metadata": {"name": "hog"},
            "spec": {
                "experiment": "default",
                "project": {"uri": uri},
                "entryPoint": "hog",
                "backoffLimit": 0,
                "resources": {"limits": {"memory": "128Mi"}, "requests": {"memory": "128Mi"}},
            },
        },
    )
    run = ended(operator, namespace, "hog")
    assert run["status"]["phase"] == "Failed"
    assert "OOMKilled" in run["status"]["message"]


def test_a_plain_python_image_trains_the_example_and_logs_to_the_tracking_server(
    operator: LocalCluster, namespace: str, tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner is delivered by an init container; python_env's requirements (mlflow,
    scikit-learn) install from the package registries inside the pod."""
    name = mlkube_run(
        operator,
        namespace,
        str(EXAMPLE),
        "--image",
        PLAIN_PYTHON,
        "-P",
        "alpha=0.2",
        "--name",
        "elasticnet-plain",
    )
    run = ended(operator, namespace, name, timeout=900)
    assert run["status"]["phase"] == "Succeeded", run["status"]
    job = operator.get_json(namespace, "job", run["status"]["jobName"])
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == PLAIN_PYTHON
    monkeypatch.setenv("MLFLOW_WORKSPACE", namespace)
    logged = MlflowClient(tracking_uri).get_run(run["status"]["runId"])
    assert logged.data.params["alpha"] == "0.2"
    assert {"rmse", "r2"} <= set(logged.data.metrics)


def test_the_stock_clients_artifact_calls_work_in_a_run_and_from_outside(
    operator: LocalCluster,
    namespace: str,
    scratch: Path,
    tracking_uri: str,
    *,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One artifact URI for kubectl, the REST API and the pod; the pod needs no S3 credentials."""
    import mlflow
    import mlflow.sklearn

    name = mlkube_run(operator, namespace, str(scratch), "-e", "artifacts")
    run = ended(operator, namespace, name)
    status = run["status"]
    assert status["phase"] == "Succeeded", status
    monkeypatch.setenv("MLFLOW_WORKSPACE", namespace)
    client = MlflowClient(tracking_uri)
    logged = client.get_run(status["runId"])
    expected = f"mlflow-artifacts:/{logged.info.experiment_id}/{status['runId']}/artifacts"
    assert status["artifactUri"] == expected
    assert logged.info.artifact_uri == expected
    assert logged.data.tags["seen_artifact_uri"] == expected

    run_id = status["runId"]
    assert {f.path for f in client.list_artifacts(run_id)} >= {
        "notes.txt",
        "data",
        "config",
        "text",
        "plots",
    }
    assert {f.path for f in client.list_artifacts(run_id, "data")} == {"data/a.csv", "data/sub"}
    out = Path(client.download_artifacts(run_id, "", str(tmp_path)))
    assert (out / "notes.txt").read_text() == "one file\n"
    assert (out / "data" / "a.csv").read_text() == "x,y\n1,2\n"
    assert (out / "data" / "sub" / "b.txt").read_text() == "nested\n"
    assert json.loads((out / "config" / "params.json").read_text()) == {"alpha": 0.5}
    assert (out / "text" / "hello.txt").read_text() == "hello from the pod"
    assert (out / "plots" / "line.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    # MLflow 3 keeps log_model's files with the logged model; runs:/<id>/model finds them.
    mlflow.set_tracking_uri(tracking_uri)
    model = mlflow.sklearn.load_model(f"runs:/{run_id}/model")
    assert model.predict([[3.0]])[0] == pytest.approx(6.0)
