"""Issue 18's `mlkube sweep` against the local cluster, as a user types it: a grid of two trials
over examples/sweep, submitted with the project uploaded and waited for, then read back with
`mlkube sweeps list|get|best` and deleted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from e2e.cluster.cluster import ROOT, LocalCluster
from e2e.cluster.waiting import eventually
from mlkube.api import Sweep
from mlkube.api.sweep import BestTrial

EXAMPLE = ROOT / "examples" / "sweep"
GRID = {
    "apiVersion": "mlkube.io/v1alpha1",
    "kind": "Sweep",
    "metadata": {"name": "grid"},
    "spec": {
        "template": {
            "experiment": "sweep-cli",
            "parameters": {"epochs": "2"},
            "activeDeadlineSeconds": 600,
        },
        "searchSpace": {"alpha": {"type": "categorical", "values": ["0.001", "0.1"]}},
        "algorithm": "grid",
        "objective": {"metric": "val_rmse", "direction": "minimize"},
        "parallelism": 2,
        "maxRuns": 5,  # the grid has 2 points: it ends after 2
        "maxFailedRuns": 0,
    },
}


def test_a_grid_sweep_through_the_cli(
    operator: LocalCluster, namespace: str, tmp_path: Path
) -> None:
    def mlkube(*args: str) -> str:
        result = operator.mlkube(*args, "-n", namespace, timeout=900)
        assert result.returncode == 0, result.stderr + result.stdout
        return result.stdout

    file = tmp_path / "sweep.yaml"
    file.write_text(yaml.safe_dump(GRID))
    result = operator.mlkube(
        "sweep", "-f", str(file), str(EXAMPLE), "--wait", "--timeout", "800", "-n", namespace,
        timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout == f"sweep/grid created in namespace {namespace}\n"
    said = result.stderr
    assert "uploading" in said
    assert "stored as mlflow-artifacts:/projects/" in said
    assert "trial 0 created: grid-t0 alpha=0.001" in said
    assert "trial 1 created: grid-t1 alpha=0.1" in said
    assert "best so far: trial " in said
    assert said.strip().splitlines()[-1].startswith("sweep/grid: Succeeded: 2 trials, best trial")

    [listed] = json.loads(mlkube("sweeps", "list", "-o", "json"))["items"]
    sweep = Sweep.model_validate(listed)
    assert (sweep.status.phase, sweep.status.trials, sweep.status.succeeded) == ("Succeeded", 2, 2)
    assert sweep.status.progress == "2/2"
    assert sweep.spec.template.project is not None
    assert str(sweep.spec.template.project.uri).startswith("mlflow-artifacts:/projects/")

    table = mlkube("sweeps", "get", "grid").split("\n\n")[1].splitlines()
    assert table[0].split() == ["TRIAL", "RUN", "PHASE", "alpha", "val_rmse", "NOTE"]
    rows = [line.split() for line in table[1:]]
    assert [r[:4] for r in rows] == [
        ["0", "grid-t0", "Succeeded", "0.001"],
        ["1", "grid-t1", "Succeeded", "0.1"],
    ]
    best = BestTrial.model_validate(json.loads(mlkube("sweeps", "best", "grid", "-o", "json")))
    assert best == sweep.status.best
    assert [r[-1] for r in rows if r[1] == best.run] == ["best"]
    values = {r[1]: float(r[4]) for r in rows}  # the table rounds to 6 significant digits
    assert best.run == min(values, key=values.__getitem__)
    assert best.value == pytest.approx(values[best.run], rel=1e-5)

    assert mlkube("sweeps", "delete", "grid") == "sweep/grid deleted\n"

    def gone() -> bool:
        runs = operator.get_json(namespace, "runs", "-l", "mlkube.io/sweep=grid")["items"]
        return not runs  # the trials go with the Sweep (owner references)

    eventually(gone, timeout=120, what="the trials to be deleted with the sweep")


def test_a_sweep_suspended_and_resumed_through_the_cli(
    operator: LocalCluster, namespace: str, tmp_path: Path
) -> None:
    """Suspending stops the running trial (Killed, still counted) and makes no other; resuming
    goes on with the next grid point until the grid is done."""
    paused = {**GRID, "metadata": {"name": "pause"}}
    paused["spec"] = {
        **GRID["spec"],
        # Slow on purpose (20 s per epoch), so trial 0 is still running when suspended.
        "template": {
            **GRID["spec"]["template"],
            "parameters": {"epochs": "3", "handicap": "shuffled", "handicap_sleep": "20"},
        },
        "parallelism": 1,
    }
    file = tmp_path / "sweep.yaml"
    file.write_text(yaml.safe_dump(paused))

    def mlkube(*args: str) -> str:
        result = operator.mlkube(*args, "-n", namespace, timeout=900)
        assert result.returncode == 0, result.stderr + result.stdout
        return result.stdout

    mlkube("sweep", "-f", str(file), str(EXAMPLE))

    def phase_of(kind: str, name: str) -> str | None:
        found = operator.get_json(namespace, kind, name)
        return (found.get("status") or {}).get("phase")

    eventually(
        lambda: phase_of("runs", "pause-t0") == "Running", timeout=600, what="trial 0 to run"
    )
    assert mlkube("sweeps", "suspend", "pause") == "sweep/pause suspended\n"
    eventually(
        lambda: (
            phase_of("sweeps", "pause") == "Suspended" and phase_of("runs", "pause-t0") == "Killed"
        ),
        timeout=300,
        what="the sweep to be Suspended and its running trial Killed",
    )
    runs = operator.get_json(namespace, "runs", "-l", "mlkube.io/sweep=pause")["items"]
    assert [r["metadata"]["name"] for r in runs] == ["pause-t0"]  # nothing new while suspended
    assert phase_of("runs", "pause") == "Killed"  # the parent MLflow run, until resumed

    assert mlkube("sweeps", "resume", "pause") == "sweep/pause resumed\n"
    eventually(
        lambda: phase_of("sweeps", "pause") == "Succeeded", timeout=900, what="the sweep to end"
    )
    sweep = Sweep.model_validate(operator.get_json(namespace, "sweeps", "pause"))
    assert (sweep.status.trials, sweep.status.killed, sweep.status.succeeded) == (2, 1, 1)
    assert sweep.status.best is not None
    assert sweep.status.best.run == "pause-t1"
    assert phase_of("runs", "pause") == "Succeeded"
    mlkube("sweeps", "delete", "pause")
