"""The SDK's sweeps: submitting one (the project uploaded and substituted), its trials read from
its child Runs, its end, its best trial, and stopping it; against the in-memory API server of
tests/unit/cli/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tests.unit.cli.conftest import MemoryKube
from tests.unit.client.sweep_objects import (
    BEST,
    COMMIT,
    MANIFEST,
    PROJECT,
    UPLOADED,
    fake_upload,
    parent,
    spec,
    sweep,
    trial,
)

from mlkube import layout
from mlkube.api import Sweep, SweepSpec
from mlkube.api.kinds import RUN, SWEEP
from mlkube.api.trial import Outcome
from mlkube.client import Client, Invalid, WaitTimeout
from mlkube.client.sweeps import manifest_of


@pytest.fixture
def memory() -> MemoryKube:
    return MemoryKube()


@pytest.fixture
def client(memory: MemoryKube) -> Client:
    return Client("team", kube=memory)  # type: ignore[arg-type]  # a stand-in Kube


def test_a_manifest_comes_as_yaml_a_file_a_dict_or_a_model(tmp_path: Path) -> None:
    file = tmp_path / "sweep.yaml"
    file.write_text(MANIFEST)
    as_dict = yaml.safe_load(MANIFEST)
    want = {"metadata": as_dict["metadata"], "spec": as_dict["spec"]}
    assert manifest_of(MANIFEST) == want
    assert manifest_of(file) == want
    assert manifest_of(as_dict) == want
    assert manifest_of(as_dict["spec"]) == {"metadata": {}, "spec": as_dict["spec"]}
    model = SweepSpec.model_validate(spec())
    assert manifest_of(model) == {"metadata": {}, "spec": model.to_wire()}
    made = Sweep.model_validate(sweep())
    assert manifest_of(made)["spec"] == made.spec.to_wire()
    experiment = "kind: Experiment\nmetadata: {name: wine}\n---\n"
    assert manifest_of(experiment + MANIFEST) == want  # as examples/sweep/sweep.yaml


def test_what_is_not_a_sweep_manifest_says_so(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match=r"pass a file as a pathlib\.Path"):
        manifest_of("sweep.yaml")
    with pytest.raises(Invalid, match="is a Run, not a Sweep"):
        manifest_of({"kind": "Run", "spec": {}})
    with pytest.raises(Invalid, match="holds 2 documents, 0 of them Sweeps"):
        manifest_of("kind: Run\n---\nkind: Experiment\n")
    with pytest.raises(Invalid, match="cannot read it"):
        manifest_of(tmp_path / "missing.yaml")


def test_submit_uploads_the_project_and_makes_it_the_template_project(
    memory: MemoryKube, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploaded = fake_upload(monkeypatch)
    memory.user = "alice"
    made = client.submit_sweep(MANIFEST, PROJECT)
    assert uploaded == [PROJECT]
    stored = memory.get(SWEEP, "team", "tune")
    assert stored["spec"]["template"]["project"] == {"uri": UPLOADED}
    assert stored["spec"]["template"]["parameters"] == {"seed": "7"}
    assert stored["metadata"]["annotations"] == {
        layout.GIT_COMMIT_ANNOTATION: COMMIT,
        layout.CREATED_BY_ANNOTATION: "alice",
    }
    assert made.spec.template.project is not None
    assert made.spec.template.project.uri == UPLOADED


def test_submit_replaces_a_project_the_file_names(
    memory: MemoryKube, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_upload(monkeypatch)
    given = yaml.safe_load(MANIFEST)
    given["spec"]["template"]["project"] = {"uri": "mlflow-artifacts:/projects/<sha256>.tar.gz"}
    client.submit_sweep(given, PROJECT, name="other")
    assert memory.get(SWEEP, "team", "other")["spec"]["template"]["project"] == {"uri": UPLOADED}


def test_without_a_name_one_is_generated_from_the_project(
    memory: MemoryKube, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_upload(monkeypatch)
    made = client.submit_sweep(yaml.safe_load(MANIFEST)["spec"], PROJECT)
    assert str(made.metadata.name).startswith("sklearn-elasticnet-")


def test_a_project_named_in_the_file_is_not_uploaded(
    memory: MemoryKube, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploaded = fake_upload(monkeypatch)
    client.submit_sweep(Sweep.model_validate(sweep()))
    assert uploaded == []
    assert memory.get(SWEEP, "team", "tune")["spec"]["template"]["project"] == {"uri": UPLOADED}


def test_a_bad_spec_is_refused_before_the_upload(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploaded = fake_upload(monkeypatch)
    bad = MANIFEST.replace("step: 0.5", "log: true, low: 0.001")
    with pytest.raises(Invalid) as caught:
        client.submit_sweep(bad, PROJECT)
    assert "Sweep 'tune': spec: searchSpace.alpha: the grid algorithm needs a finite" in str(
        caught.value
    )
    assert uploaded == []


def test_a_sweep_without_a_project_says_how_to_give_one(client: Client) -> None:
    with pytest.raises(Invalid, match=r"give the project's directory \(`mlkube sweep -f FILE"):
        client.submit_sweep(MANIFEST)


def test_a_manifest_of_another_namespace_is_refused(client: Client) -> None:
    other = MANIFEST.replace("  name: tune\n", "  name: tune\n  namespace: prod\n")
    with pytest.raises(Invalid, match="says namespace prod, but this client's is team"):
        client.submit_sweep(other, PROJECT)


def test_trials_are_the_child_runs_in_index_order(memory: MemoryKube, client: Client) -> None:
    memory.add(SWEEP, "team", sweep())
    pruned = {layout.PRUNED_ANNOTATION: "3"}
    for run in (
        trial(2, "Killed", 0.9, annotations=pruned),
        trial(0, "Succeeded", 0.7),
        trial(1, "Running", 0.6),
        trial(0, "Running", sweep_name="other"),
        parent(),
    ):
        memory.add(RUN, "team", run)
    found = client.trials("tune")
    assert [(t.trial.index, t.name, t.phase) for t in found] == [
        (0, "tune-t0", "Succeeded"),
        (1, "tune-t1", "Running"),
        (2, "tune-t2", "Killed"),
    ]
    assert [t.trial.outcome for t in found] == [Outcome.COMPLETE, Outcome.RUNNING, Outcome.PRUNED]
    assert found[1].trial.parameters == {"alpha": "0.5", "l1_ratio": "0.1"}  # searched only
    assert [t.latest for t in found] == [0.7, 0.6, 0.9]
    assert [t.trial.value for t in found] == [0.7, None, None]  # only a completed trial counts


def test_wait_returns_the_ended_sweep_and_best_its_best_trial(
    memory: MemoryKube, client: Client
) -> None:
    memory.add(SWEEP, "team", sweep(phase="Succeeded", trials=4, best=BEST))
    done = client.wait_for_sweep("tune", timeout=5)
    assert done.status.phase == "Succeeded"
    best = client.best(done)
    assert best is not None
    assert (best.run, best.value) == ("tune-t1", 0.5)


def test_a_wait_that_runs_out_says_what_it_saw(memory: MemoryKube, client: Client) -> None:
    memory.add(SWEEP, "team", sweep(phase="Running", progress="1/4"))
    with pytest.raises(
        WaitTimeout, match=r"not at phase Failed, Succeeded or Suspended after 0\.2s"
    ):
        client.wait_for_sweep("tune", timeout=0.2)


def test_suspend_and_resume_set_the_sweeps_suspend(memory: MemoryKube, client: Client) -> None:
    memory.add(SWEEP, "team", sweep(phase="Running", trials=2))
    memory.add(RUN, "team", trial(1, "Running"))
    client.suspend_sweep("tune")
    assert memory.get(SWEEP, "team", "tune")["spec"]["suspend"] is True
    assert memory.get(SWEEP, "team", "tune")["spec"]["maxRuns"] == 4  # the user's, kept
    assert "suspend" not in memory.get(RUN, "team", "tune-t1")["spec"]  # the operator's part
    client.resume_sweep("tune")
    assert memory.get(SWEEP, "team", "tune")["spec"]["suspend"] is False


def test_an_ended_sweep_is_left_alone(memory: MemoryKube, client: Client) -> None:
    memory.add(SWEEP, "team", sweep(phase="Succeeded", trials=4))
    assert client.suspend_sweep("tune").status.phase == "Succeeded"
    assert "suspend" not in memory.get(SWEEP, "team", "tune")["spec"]


def test_waiting_ends_at_a_suspended_sweep(memory: MemoryKube, client: Client) -> None:
    memory.add(SWEEP, "team", sweep(phase="Suspended", trials=2))
    assert client.wait_for_sweep("tune", timeout=5).status.phase == "Suspended"
