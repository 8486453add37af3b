"""`mlkube sweep` and `mlkube sweeps`: what they print (tables, and -o json|yaml that parse back
into the models), the trial table from a Sweep's child Runs, the progress of --wait, and
one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from tests.unit.cli.conftest import MemoryKube
from tests.unit.cli.conftest import Run as Cli
from tests.unit.client.sweep_objects import (
    BEST,
    MANIFEST,
    PROJECT,
    UPLOADED,
    fake_upload,
    parent,
    sweep,
    trial,
)

from mlkube import layout
from mlkube.api import Sweep
from mlkube.api.kinds import RUN, SWEEP
from mlkube.api.sweep import BestTrial
from mlkube.cli.base import Options
from mlkube.cli.names import complete
from mlkube.client import Client

RUNNING: dict[str, Any] = {
    "phase": "Running",
    "trials": 3,
    "running": 1,
    "succeeded": 1,
    "killed": 1,
    "pruned": 1,
    "progress": "2/4",
    "best": {**BEST, "run": "tune-t0", "trial": 0, "value": 0.7, "parameters": {"alpha": "0.0"}},
}


def parsed(text: str, output: str) -> Any:
    return json.loads(text) if output == "json" else yaml.safe_load(text)


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def running(memory: MemoryKube) -> MemoryKube:
    """Sweep tune with a succeeded (best), a running and a pruned trial, and its parent run."""
    memory.add(SWEEP, "team", sweep(**RUNNING))
    memory.add(RUN, "team", trial(0, "Succeeded", 0.7))
    memory.add(RUN, "team", trial(1, "Running", 0.8))
    memory.add(RUN, "team", trial(2, "Killed", 0.9, annotations={layout.PRUNED_ANNOTATION: "3"}))
    memory.add(RUN, "team", parent())
    return memory


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_list_and_get_parse_back_into_the_model(
    running: MemoryKube, mlkube: Cli, output: str
) -> None:
    status, out, err = mlkube("sweeps", "list", "-o", output)
    assert status == 0, err
    [listed] = [Sweep.model_validate(i) for i in parsed(out, output)["items"]]
    status, out, err = mlkube("sweeps", "get", "tune", "-o", output)
    assert status == 0, err
    got = Sweep.model_validate(parsed(out, output))
    assert got == listed == Sweep.model_validate(running.get(SWEEP, "team", "tune"))
    assert got.status.best is not None
    assert got.status.best.run == "tune-t0"


def test_the_list_table_shows_progress_running_best_and_phase(
    running: MemoryKube, mlkube: Cli
) -> None:
    header, row = mlkube("sweeps", "list")[1].splitlines()
    assert header.split() == ["NAME", "ALGORITHM", "PROGRESS", "RUNNING", "BEST", "PHASE", "AGE"]
    assert row.split()[:6] == ["tune", "grid", "2/4", "1", "0.7", "Running"]


def test_get_shows_the_spec_and_a_table_of_the_trials(running: MemoryKube, mlkube: Cli) -> None:
    status, out, err = mlkube("sweeps", "get", "tune")
    assert status == 0, err
    summary, table = out.split("\n\n")
    lines = dict(line.split(":", 1) for line in summary.splitlines())
    assert lines["Phase"].strip() == "Running"
    assert lines["Progress"].strip() == "2/4 finished, 1 running (parallelism 2)"
    assert lines["Objective"].strip() == "minimize rmse"
    assert lines["Search space"].strip() == "alpha float 0..1 step 0.5; l1_ratio 0.1|0.9"
    assert lines["Best"].strip() == "trial 0 (tune-t0): rmse=0.7 alpha=0.0"
    assert [r.split() for r in table.splitlines()] == [
        ["TRIAL", "RUN", "PHASE", "alpha", "l1_ratio", "rmse", "NOTE"],
        ["0", "tune-t0", "Succeeded", "0.0", "0.1", "0.7", "best"],
        ["1", "tune-t1", "Running", "0.5", "0.1", "0.8"],
        ["2", "tune-t2", "Killed", "1.0", "0.1", "0.9", "pruned"],
    ]
    wide = mlkube("sweeps", "get", "tune", "-o", "wide")[1].split("\n\n")[1].splitlines()
    assert wide[0].split()[-2:] == ["RUN", "ID"]
    assert wide[1].split()[-1] == f"{0:032x}"


def test_get_of_a_sweep_without_trials_says_so(memory: MemoryKube, mlkube: Cli) -> None:
    memory.add(SWEEP, "team", sweep())
    status, out, _ = mlkube("sweeps", "get", "tune")
    assert status == 0
    assert "Phase:" in out
    assert out.rstrip().endswith("No trials yet.")


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_best_parses_back_into_the_model(running: MemoryKube, mlkube: Cli, output: str) -> None:
    status, out, err = mlkube("sweeps", "best", "tune", "-o", output)
    assert status == 0, err
    best = BestTrial.model_validate(parsed(out, output))
    assert (best.run, best.trial, best.value, best.parameters) == (
        "tune-t0",
        0,
        0.7,
        {"alpha": "0.0"},
    )


def test_best_as_a_table(running: MemoryKube, mlkube: Cli) -> None:
    header, row = mlkube("sweeps", "best", "tune")[1].splitlines()
    assert header.split() == ["TRIAL", "RUN", "rmse", "PARAMETERS", "RUN", "ID"]
    assert row.split() == ["0", "tune-t0", "0.7", "alpha=0.0", "1" * 32]


def test_no_best_yet_is_a_one_line_error(memory: MemoryKube, mlkube: Cli) -> None:
    memory.add(SWEEP, "team", sweep(phase="Running"))
    status, out, err = mlkube("sweeps", "best", "tune")
    assert (status, out) == (1, "")
    assert one_line(err) == (
        "error: Sweep 'tune' in namespace team has no best trial yet: no trial has finished "
        "with metric rmse; see its trials with `mlkube sweeps get tune`"
    )


def test_a_missing_sweep_is_a_one_line_error(mlkube: Cli) -> None:
    status, _, err = mlkube("sweeps", "get", "nope")
    assert status == 1
    assert one_line(err) == (
        "error: Sweep 'nope' not found in namespace team; check the name and the namespace "
        "(`kubectl get sweeps -n team` lists them)"
    )


def test_a_bad_file_is_a_one_line_error_naming_the_field(mlkube: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "sweep.yaml"
    bad.write_text(MANIFEST.replace("maxRuns: 4", "maxRuns: 0"))
    status, _, err = mlkube("sweep", "-f", str(bad), str(PROJECT))
    assert status == 1
    assert "spec.maxRuns" in one_line(err)


def test_suspend_resume_and_delete(running: MemoryKube, mlkube: Cli) -> None:
    status, out, err = mlkube("sweeps", "suspend", "tune")
    assert (status, out) == (0, "sweep/tune suspended\n"), err
    assert running.get(SWEEP, "team", "tune")["spec"]["suspend"] is True
    assert mlkube("sweeps", "resume", "tune")[1] == "sweep/tune resumed\n"
    assert running.get(SWEEP, "team", "tune")["spec"]["suspend"] is False
    assert mlkube("sweeps", "delete", "tune")[1] == "sweep/tune deleted\n"
    assert ("sweeps", "team", "tune") not in running.objects


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_submit_uploads_the_project_and_prints_the_sweep(
    memory: MemoryKube,
    mlkube: Cli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    output: str,
) -> None:
    uploaded = fake_upload(monkeypatch)
    file = tmp_path / "sweep.yaml"
    file.write_text(MANIFEST)
    status, out, err = mlkube("sweep", "-f", str(file), str(PROJECT), "--name", "x", "-o", output)
    assert status == 0, err
    assert uploaded == [PROJECT]
    made = Sweep.model_validate(parsed(out, output))
    assert made.metadata.name == "x"
    assert made.spec.template.project is not None
    assert made.spec.template.project.uri == UPLOADED
    assert f"stored as {UPLOADED}" in err


def test_submit_without_wait_says_where_to_look(
    memory: MemoryKube, mlkube: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_upload(monkeypatch)
    file = tmp_path / "sweep.yaml"
    file.write_text(MANIFEST)
    status, out, err = mlkube("sweep", "-f", str(file), str(PROJECT))
    assert (status, out) == (0, "sweep/tune created in namespace team\n")
    assert "mlkube sweeps get tune -n team" in err


def change(memory: MemoryKube, **status: Any) -> None:
    memory.events.append(("MODIFIED", SWEEP, sweep(**status)))


def test_wait_shows_trials_as_they_go_and_exits_with_the_outcome(
    memory: MemoryKube, mlkube: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_upload(monkeypatch)
    file = tmp_path / "sweep.yaml"
    file.write_text(MANIFEST)
    best = {**BEST, "run": "tune-t0", "trial": 0, "value": 0.7, "parameters": {"alpha": "0.0"}}
    memory.events += [
        ("ADDED", RUN, trial(0, "Running")),
        ("ADDED", RUN, trial(1, "Running")),
    ]
    change(memory, phase="Running", trials=2, running=2, progress="0/4")
    memory.events += [
        ("MODIFIED", RUN, trial(0, "Succeeded", 0.7)),
        ("MODIFIED", RUN, trial(1, "Killed", 0.9, annotations={layout.PRUNED_ANNOTATION: "3"})),
    ]
    change(memory, phase="Running", trials=2, succeeded=1, killed=1, pruned=1, best=best)
    change(memory, phase="Failed", trials=2, succeeded=1, killed=1, best=best, message="too many")
    status, _, err = mlkube("sweep", "-f", str(file), str(PROJECT), "--wait")
    assert status == 1
    said = [line.strip() for line in err.splitlines() if "uploading" not in line]
    assert said[said.index("trial 0 created: tune-t0 alpha=0.0 l1_ratio=0.1") :] == [
        "trial 0 created: tune-t0 alpha=0.0 l1_ratio=0.1",
        "trial 1 created: tune-t1 alpha=0.5 l1_ratio=0.1",
        "trial 0 Succeeded rmse=0.7",
        "trial 1 Killed (pruned) rmse=0.9",
        "best so far: trial 0 (tune-t0): rmse=0.7 alpha=0.0",
        "sweep/tune: Failed: 2 trials, best trial 0 (tune-t0): rmse=0.7 alpha=0.0; too many",
    ]


def test_sweep_names_complete_from_the_cluster(memory: MemoryKube) -> None:
    memory.add(SWEEP, "team", sweep("tune"))
    memory.add(SWEEP, "team", sweep("other"))
    client = Client("team", kube=memory)  # type: ignore[arg-type]  # a stand-in Kube
    context = click.Context(click.Command("x"), obj=Options(made=[client]))
    names = complete(SWEEP)(context, click.Argument(["name"]), "t")
    assert [n.value for n in names] == ["tune"]


def test_the_example_submits_with_its_project_uploaded(
    memory: MemoryKube, mlkube: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = PROJECT.parent / "sweep"
    uploaded = fake_upload(monkeypatch)
    status, out, err = mlkube("sweep", "-f", str(example / "sweep.yaml"), str(example))
    assert (status, out) == (0, "sweep/elasticnet-tpe created in namespace team\n"), err
    assert uploaded == [example]
    stored = memory.get(SWEEP, "team", "elasticnet-tpe")["spec"]
    assert stored["template"]["project"] == {"uri": UPLOADED}  # instead of the image's copy
    assert stored["algorithm"] == "tpe"
