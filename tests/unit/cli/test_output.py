"""`-o json|yaml` prints objects that parse back into mlkube's resource models, and the table is
the CRD's printer columns, as kubectl shows them."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from tests.unit.cli.conftest import MemoryKube
from tests.unit.cli.conftest import Run as Cli

from mlkube.api import Experiment, ModelDeployment, RegisteredModel, Run
from mlkube.api.common import Model
from mlkube.api.kinds import EXPERIMENT, MODEL_DEPLOYMENT, MODEL_VERSION, REGISTERED_MODEL, RUN
from mlkube.cli.output import age, lookup

CREATED = "2026-01-02T03:04:05Z"
RUN_OBJ: dict[str, Any] = {
    "metadata": {"name": "train", "creationTimestamp": CREATED, "labels": {"team": "a"}},
    "spec": {
        "experiment": "elasticnet",
        "project": {"uri": "mlflow-artifacts:/projects/" + "a" * 64 + ".tar.gz"},
        "parameters": {"alpha": "0.3"},
    },
    "status": {
        "runId": "b" * 32,
        "phase": "Succeeded",
        "metrics": {"rmse": {"value": 0.7, "timestamp": 1, "step": 0}},
        "conditions": [{"type": "Ready", "status": "True", "reason": "Done"}],
    },
}
OBJECTS: list[tuple[Any, type[Model], str, dict[str, Any]]] = [
    (RUN, Run, "runs", RUN_OBJ),
    (
        EXPERIMENT,
        Experiment,
        "experiments",
        {"metadata": {"name": "elasticnet"}, "status": {"experimentId": "3", "runs": 2}},
    ),
    (
        REGISTERED_MODEL,
        RegisteredModel,
        "models",
        {"metadata": {"name": "diabetes"}, "spec": {"aliases": {"champion": 2}}},
    ),
    (
        MODEL_DEPLOYMENT,
        ModelDeployment,
        "deployments",
        {
            "metadata": {"name": "serve"},
            "spec": {"model": {"name": "diabetes", "alias": "champion"}},
            "status": {"phase": "Ready", "servedVersion": 2, "url": "http://10.96.0.9:80"},
        },
    ),
]


def parsed(text: str, output: str) -> Any:
    return json.loads(text) if output == "json" else yaml.safe_load(text)


@pytest.mark.parametrize("output", ["json", "yaml"])
@pytest.mark.parametrize(("kind", "model", "group", "obj"), OBJECTS, ids=[o[2] for o in OBJECTS])
def test_a_list_parses_back_into_the_models(  # noqa: PLR0917  (pytest passes them by name)
    memory: MemoryKube,
    mlkube: Cli,
    output: str,
    kind: Any,
    model: type[Model],
    group: str,
    obj: dict[str, Any],
) -> None:
    memory.add(kind, "team", obj)
    status, out, err = mlkube(group, "list", "-o", output)
    assert status == 0, err
    document = parsed(out, output)
    assert (document["apiVersion"], document["kind"]) == ("v1", "List")
    [item] = [model.model_validate(i) for i in document["items"]]
    assert item == model.model_validate(
        {
            "apiVersion": "mlkube.io/v1alpha1",
            "kind": kind.kind,
            **obj,
            "metadata": {"namespace": "team", **obj["metadata"]},
        }
    )


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_one_object_parses_back_into_its_model(
    memory: MemoryKube, mlkube: Cli, output: str
) -> None:
    memory.add(RUN, "team", RUN_OBJ)
    status, out, _ = mlkube("runs", "get", "train", "-o", output)
    assert status == 0
    run = Run.model_validate(parsed(out, output))
    assert (run.status.phase, run.status.metrics["rmse"].value) == ("Succeeded", 0.7)
    assert run.metadata.labels == {"team": "a"}


def test_flags_go_before_or_after_the_command(memory: MemoryKube, mlkube: Cli) -> None:
    memory.add(RUN, "team", RUN_OBJ)
    assert (
        mlkube("-o", "json", "runs", "get", "train")[1]
        == mlkube("runs", "get", "train", "-o", "json")[1]
    )


def test_the_table_has_the_printer_columns(memory: MemoryKube, mlkube: Cli) -> None:
    memory.add(RUN, "team", RUN_OBJ)
    out = mlkube("runs", "list")[1]
    header, row = out.splitlines()
    assert header.split() == ["NAME", "EXPERIMENT", "PHASE", "STARTED", "DURATION", "AGE"]
    assert row.split()[:3] == ["train", "elasticnet", "Succeeded"]
    wide = mlkube("runs", "list", "-o", "wide")[1].splitlines()[0].split()
    assert wide[-5:] == ["AGE", "RUN", "ID", "JOB", "MESSAGE"]


def test_a_models_table_shows_its_aliases(memory: MemoryKube, mlkube: Cli) -> None:
    memory.add(REGISTERED_MODEL, "team", OBJECTS[2][3])
    out = mlkube("models", "list")[1]
    assert out.splitlines()[0].split() == ["NAME", "LATEST", "AGE", "ALIASES"]
    assert out.splitlines()[1].split()[-1] == "champion=2"


def test_an_empty_list_says_so_on_stderr(mlkube: Cli) -> None:
    status, out, err = mlkube("deployments", "list")
    assert (status, out, err.strip()) == (0, "", "No modeldeployments found.")


def test_printer_column_paths() -> None:
    obj = {
        "status": {
            "conditions": [{"type": "A", "status": "x"}, {"type": "Ready", "status": "True"}]
        }
    }
    assert lookup(obj, '.status.conditions[?(@.type=="Ready")].status') == "True"
    assert lookup(obj, ".status.phase") is None
    assert lookup(obj, ".spec.model.name") is None


def test_ages_read_as_kubectl_prints_them() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 5, 3, 4, 5, tzinfo=UTC)
    assert [
        age(t, now)
        for t in ("2026-01-05T03:03:50Z", "2026-01-05T02:54:05Z", "2026-01-05T00:04:05Z", CREATED)
    ] == ["15s", "10m", "3h", "3d"]
    assert MODEL_VERSION.plural == "modelversions"  # (the versions table reads this kind)
