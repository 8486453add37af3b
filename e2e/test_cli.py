"""Issue 16: the `mlkube` command against the local cluster, as a user types it.

The module trains the elasticnet example once with `mlkube run --follow` (its output streamed, its
exit status the Run's outcome) in a namespace of its own; the tests then read, register, deploy and
predict with the other commands. Small scratch projects on the plain Python image show a failing
run's status and a cancelled one's. kubectl runs `kubectl mlkube` from a `kubectl-mlkube` on PATH.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from e2e.cluster.cluster import ROOT, LocalCluster
from e2e.cluster.waiting import eventually
from e2e.scoring import COLUMNS, ROWS
from mlkube.api import Experiment, ModelDeployment, ModelVersion, RegisteredModel, Run

EXAMPLE = ROOT / "examples" / "sklearn-elasticnet"
PLAIN_PYTHON = "mlkube/debian-python:0.1.0"
SCRATCH = {
    "MLproject": "name: scratch\nentry_points:\n  fail:\n    command: python fail.py\n"
    "  sleep:\n    command: python sleep.py\n",
    "fail.py": "print('loading data', flush=True)\nraise ValueError('no column price')\n",
    "sleep.py": "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n",
}


@dataclass
class Trained:
    cluster: LocalCluster
    namespace: str
    run: str
    followed: subprocess.CompletedProcess[str]

    def mlkube(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = self.cluster.mlkube(*args, "-n", self.namespace, stdin=stdin, timeout=300)
        return result

    def ok(self, *args: str, stdin: str | None = None) -> str:
        result = self.mlkube(*args, stdin=stdin)
        assert result.returncode == 0, result.stderr + result.stdout
        return result.stdout


@pytest.fixture(scope="module")
def trained(operator: LocalCluster) -> Iterator[Trained]:
    """The example trained once by `mlkube run --follow`, in a namespace of the module."""
    namespace = f"cli-{uuid.uuid4().hex[:8]}"
    operator.kubectl("create", "namespace", namespace)
    try:
        followed = operator.mlkube(
            "run", str(EXAMPLE), "-n", namespace, "--name", "train", "--experiment", "cli",
            "-P", "alpha=0.3", "--follow", "--timeout", "600",
        )  # fmt: skip
        yield Trained(operator, namespace, "train", followed)
    finally:
        operator.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scratch")
    for name, text in SCRATCH.items():
        (root / name).write_text(text)
    return root


def test_run_follow_streams_the_training_and_exits_with_its_outcome(trained: Trained) -> None:
    result = trained.followed
    assert result.returncode == 0, result.stderr
    assert "run/train created in namespace" in result.stdout
    # The example's own output, streamed from the pod (train.py prints it).
    assert "alpha=0.3 l1_ratio=0.1: rmse=" in result.stdout
    assert "uploading" in result.stderr  # the progress bar's final state
    assert result.stderr.strip().splitlines()[-1] == "run/train: Succeeded: the run's code exited 0"


def test_a_failing_run_exits_1_and_says_why(trained: Trained, scratch: Path) -> None:
    result = trained.mlkube(
        "run", str(scratch), "-e", "fail", "--image", PLAIN_PYTHON, "--name", "broken", "--follow"
    )
    assert result.returncode == 1, result.stderr + result.stdout
    assert "loading data" in result.stdout
    assert "ValueError: no column price" in result.stdout
    assert any(line.startswith("run/broken: Failed") for line in result.stderr.splitlines())


def test_a_cancelled_run_ends_killed_and_its_follower_exits_3(
    trained: Trained, scratch: Path
) -> None:
    follower = subprocess.Popen(
        trained.cluster.mlkube_command(
            "run",
            str(scratch),
            "-e",
            "sleep",
            "--image",
            PLAIN_PYTHON,
            "--name",
            "sleepy",
            "--follow",
            "-n",
            trained.namespace,
        ),
        env=trained.cluster.mlkube_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    assert follower.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(follower.stdout or []), daemon=True)
    reader.start()
    try:
        eventually(lambda: "sleeping\n" in lines, timeout=180, what="the run to start")
        assert "run/sleepy cancelled" in trained.ok("runs", "cancel", "sleepy", "--wait")
        _, err = follower.communicate(timeout=120)
    finally:
        follower.kill()
        follower.wait(timeout=30)
        reader.join(timeout=30)
    assert follower.returncode == 3, err
    assert "run/sleepy: Killed" in err
    assert (
        Run.model_validate(
            json.loads(trained.ok("runs", "get", "sleepy", "-o", "json"))
        ).status.phase
        == "Killed"
    )
    assert "run/sleepy deleted" in trained.ok("runs", "delete", "sleepy")
    gone = trained.mlkube("runs", "get", "sleepy")
    assert gone.returncode == 1
    assert gone.stderr.startswith("error: Run 'sleepy' not found in namespace ")


def test_runs_list_get_and_logs(trained: Trained) -> None:
    table = trained.ok("runs", "list", "--experiment", "cli").splitlines()
    assert table[0].split() == ["NAME", "EXPERIMENT", "PHASE", "STARTED", "DURATION", "AGE"]
    assert table[1].split()[:3] == ["train", "cli", "Succeeded"]
    run = Run.model_validate(yaml.safe_load(trained.ok("runs", "get", "train", "-o", "yaml")))
    assert (run.status.phase, run.status.params["alpha"]) == ("Succeeded", "0.3")
    listed = json.loads(trained.ok("runs", "list", "-o", "json"))
    assert {Run.model_validate(i).metadata.name for i in listed["items"]} >= {"train"}
    assert "alpha=0.3 l1_ratio=0.1: rmse=" in trained.ok("runs", "logs", "train")


def test_kubectl_runs_mlkube_as_a_plugin(trained: Trained, tmp_path: Path) -> None:
    plugin = tmp_path / "kubectl-mlkube"
    plugin.write_text(f'#!/bin/sh\nexec {sys.executable} -m mlkube.cli "$@"\n')
    plugin.chmod(0o755)
    # HOME: kubectl keeps its discovery cache there (not in the working directory).
    env = trained.cluster.mlkube_env(
        {"PATH": f"{tmp_path}:{trained.cluster.bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    )
    plugins = subprocess.run(
        ["kubectl", "plugin", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert str(plugin) in plugins.stdout
    result = subprocess.run(
        ["kubectl", "mlkube", "runs", "list", "-n", trained.namespace],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split()[:3] == ["NAME", "EXPERIMENT", "PHASE"]
    assert any(
        line.split()[:3] == ["train", "cli", "Succeeded"] for line in result.stdout.splitlines()
    )


def test_experiments_list_and_get(trained: Trained) -> None:
    table = trained.ok("experiments", "list").splitlines()
    assert table[0].split() == ["NAME", "ID", "RUNS", "AGE"]
    assert any(line.split()[0] == "cli" for line in table[1:])
    experiment = Experiment.model_validate(
        json.loads(trained.ok("experiments", "get", "cli", "-o", "json"))
    )
    assert experiment.status.experiment_id
    eventually(
        lambda: (
            Experiment.model_validate(
                json.loads(trained.ok("experiments", "get", "cli", "-o", "json"))
            ).status.runs
            >= 1
        ),
        timeout=60,
        what="the experiment to count its run",
    )


def test_models_deploy_and_predict(trained: Trained) -> None:
    said = trained.ok("models", "register", "train", "--name", "diabetes", "--alias", "champion")
    assert said.strip() == "diabetes: version 1, alias champion"
    table = trained.ok("models", "list").splitlines()
    assert table[0].split() == ["NAME", "LATEST", "AGE", "ALIASES"]
    assert table[1].split()[0] == "diabetes"
    assert table[1].split()[-1] == "champion=1"
    model = RegisteredModel.model_validate(
        yaml.safe_load(trained.ok("models", "get", "diabetes", "-o", "yaml"))
    )
    assert model.spec.aliases == {"champion": 1}
    assert "diabetes@staging-pick -> version 1" in trained.ok(
        "models", "alias", "diabetes", "staging-pick", "1"
    )
    assert "deleted" in trained.ok("models", "alias", "diabetes", "staging-pick", "--delete")
    assert (
        trained.ok("models", "stage", "diabetes", "1", "production").strip()
        == "diabetes/1: Production"
    )
    versions = json.loads(trained.ok("models", "versions", "diabetes", "-o", "json"))["items"]
    [version] = [ModelVersion.model_validate(v) for v in versions]
    assert (version.status.version, version.status.phase, version.spec.stage) == (
        1,
        "Ready",
        "Production",
    )
    wrong = trained.mlkube("models", "alias", "diabetes", "x", "7")
    assert wrong.returncode == 1
    assert "has no version 7" in wrong.stderr

    said = trained.ok(
        "deploy", "diabetes@champion", "--name", "scorer", "--wait", "--timeout", "240"
    )
    assert said.strip() == "modeldeployment/scorer serves diabetes@champion: Ready, version 1"
    table = trained.ok("deployments", "list").splitlines()
    assert table[0].split()[:5] == ["NAME", "MODEL", "SERVED", "READY", "URL"]
    deployment = ModelDeployment.model_validate(
        json.loads(trained.ok("deployments", "get", "scorer", "-o", "json"))
    )
    assert deployment.status.phase == "Ready"
    request = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": ROWS}})
    answer = json.loads(trained.ok("predict", "scorer", "--json", "-", stdin=request))
    assert len(answer["predictions"]) == 2
    assert all(isinstance(p, float) for p in answer["predictions"])
    refused = trained.mlkube(
        "predict",
        "scorer",
        "--json",
        "-",
        stdin='{"dataframe_split": {"columns": ["x"], "data": [[1]]}}',
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: ModelDeployment 'scorer' answered 400: ")
    assert "modeldeployment/scorer deleted" in trained.ok("deployments", "delete", "scorer")


def test_status_reports_what_works_and_the_fix_for_what_does_not(trained: Trained) -> None:
    result = trained.mlkube("status")
    lines = result.stdout.splitlines()
    by_name = {line.split()[0]: line for line in lines[1:] if not line.startswith(" ")}
    assert "ok" in by_name["API"], result.stdout
    assert by_name["CRDs"].split()[1] == "ok", result.stdout
    assert by_name["tracking"].split()[2] == "ok", result.stdout
    assert by_name["object"].split()[2] == "ok", result.stdout
    # On the host platform the operator and server are processes, not Deployments: unchecked.
    assert by_name["operator"].split()[1] == "?", result.stdout
    assert result.returncode == 0, result.stdout + result.stderr
    broken = trained.cluster.mlkube(
        "status", "-n", trained.namespace, env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}
    )
    assert broken.returncode == 1
    assert "tracking server  FAIL" in broken.stdout
    assert "fix: check MLFLOW_TRACKING_URI" in broken.stdout
    checks = json.loads(trained.ok("status", "-o", "json"))
    assert {c["name"] for c in checks} >= {
        "API server",
        "CRDs",
        "operator",
        "tracking server",
        "object store",
    }


def test_shell_completion_offers_resource_names(trained: Trained) -> None:
    assert "_MLKUBE_COMPLETE" in trained.cluster.mlkube("completion", "bash").stdout
    env = {
        "_MLKUBE_COMPLETE": "bash_complete",
        "COMP_WORDS": f"mlkube runs get -n {trained.namespace} tr",
        "COMP_CWORD": "5",
    }
    result = trained.cluster.mlkube(env=env)
    assert "plain,train" in result.stdout.splitlines(), result.stdout + result.stderr
