"""Recipes run end to end in this process: a multiclass classifier (iris) registered, cached
when only the estimator changes, scored by alias; a refused model; clean; and the engine that
the cluster profile stages runs from that staged copy alone."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlflow
import pytest
import yaml
from mlflow.tracking import MlflowClient

from mlkube.recipes import cluster, commands
from mlkube.recipes.config import TRAINING, load_recipe

IRIS = """\
import pandas as pd
from sklearn.datasets import load_iris


def load_data() -> pd.DataFrame:
    return load_iris(as_frame=True).frame
"""


def edit(directory: Path, change: Any) -> None:
    path = directory / "recipe.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


@pytest.fixture
def iris(tmp_path: Path) -> Path:
    """The classification template turned multiclass, as its ingest hook's comment says."""
    directory = tmp_path / "iris"
    assert commands.init("classification", directory) == 0
    (directory / "steps" / "ingest.py").write_text(IRIS)

    def change(data: dict[str, Any]) -> None:
        data["target_col"] = "target"
        del data["positive_class"]

    edit(directory, change)
    return directory


def run(directory: Path, capsys: pytest.CaptureFixture[str], *step: str) -> tuple[int, str, str]:
    code = commands.run(directory, step[0] if step else None, "local", None, {})
    out, err = capsys.readouterr()
    return code, out, err


def states(output: str) -> dict[str, str]:
    return dict(re.findall(r"^(\w+): (ran|cached)\b", output, flags=re.MULTILINE))


def test_a_multiclass_recipe_registers_caches_and_scores(
    tracking: str, iris: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(iris, capsys)
    assert code == 0, err
    assert states(out) == dict.fromkeys(TRAINING, "ran")
    client = MlflowClient()
    version = client.get_model_version("iris", "1")
    assert version.status == "READY"
    assert version.tags["mlkube.recipe.validation"] == "passed"
    assert str(client.get_model_version_by_alias("iris", "champion").version) == "1"
    cards = iris / commands.WORK / "cards"
    assert sorted(p.stem for p in cards.glob("*.html")) == sorted(TRAINING)
    evaluate = (cards / "evaluate.html").read_text()
    assert ">0 (AUC" in evaluate  # a ROC curve per class
    assert ">2 (AUC" in evaluate

    edit(iris, lambda d: d["steps"]["train"]["estimator_params"].update(C=0.5))
    code, out, err = run(iris, capsys)
    assert code == 0, err
    assert states(out) == {
        "ingest": "cached",
        "split": "cached",
        "transform": "cached",
        "train": "ran",
        "evaluate": "ran",
        "register": "ran",
    }
    assert str(client.get_model_version_by_alias("iris", "champion").version) == "2"

    code, out, err = run(iris, capsys, "predict")
    assert code == 0, err
    assert states(out) == {"ingest": "cached", "predict": "ran"}
    predictions = (iris / commands.WORK / "steps" / "predict" / "predictions.csv").read_text()
    assert len(predictions.splitlines()) == 151
    assert set(predictions.splitlines()[0].split(",")) >= {"petal width (cm)", "prediction"}


def test_a_model_that_misses_a_criterion_is_not_registered(
    tracking: str, iris: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(iris, lambda d: d["steps"]["evaluate"]["validation_criteria"][1].update(threshold=1.5))
    code, out, err = run(iris, capsys)
    assert code == 1
    assert re.search(
        r"error: model 'iris' was not registered: it failed 1 of 2 validation criteria: test "
        r"roc_auc = [01](\.\d+)?, threshold: at least 1\.5 \(steps\.register\."
        r"allow_non_validated_model: true registers it anyway\)",
        err,
    ), err
    client = MlflowClient()
    assert client.search_model_versions("name = 'iris'") == []
    (failed,) = client.search_runs([client.get_experiment_by_name("iris").experiment_id])
    assert failed.info.status == "FAILED"
    assert failed.data.tags["mlkube.recipe.step.register"] == "refused"
    assert failed.data.tags["mlkube.recipe.validation"] == "failed"

    edit(iris, lambda d: d["steps"]["register"].update(allow_non_validated_model=True))
    code, out, err = run(iris, capsys)
    assert code == 0, err
    assert states(out)["evaluate"] == "cached"
    tags = client.get_model_version("iris", "1").tags
    assert tags["mlkube.recipe.validation"] == "not validated (allowed)"


def test_clean_forgets_every_cached_step(
    tracking: str, iris: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(iris, capsys, "split")[0] == 0
    assert states(run(iris, capsys, "split")[1]) == {"ingest": "cached", "split": "cached"}
    assert commands.clean(iris, "local", None, {}) == 0
    assert "forgot 2 cached steps" in capsys.readouterr().out
    assert not (iris / commands.WORK).exists()
    assert states(run(iris, capsys, "split")[1]) == {"ingest": "ran", "split": "ran"}


POD = """\
import json, os, sys
sys.path.insert(0, os.getcwd())
from mlkube.recipes.__main__ import main
code = main(["--step", "split", "."])
here = os.getcwd()
strays = sorted(
    name
    for name, module in sys.modules.items()
    if name.split(".")[0] == "mlkube" and not (module.__file__ or "").startswith(here)
)
print(json.dumps({"code": code, "strays": strays}))
"""


def test_the_staged_engine_runs_alone_as_in_a_pod(
    tracking: str, iris: Path, tmp_path: Path
) -> None:
    """What the cluster profile uploads: the recipe, mlkube/recipes and an MLproject; run as the
    Run's entry point would, in the run MLFLOW_RUN_ID names, importing no other mlkube code."""
    staged = tmp_path / "staged"
    staged.mkdir()
    (iris / commands.WORK).mkdir()
    (iris / commands.WORK / "stale.txt").write_text("never uploaded")
    cluster.stage(iris, load_recipe(iris), staged)
    assert not (staged / commands.WORK).exists()
    project = yaml.safe_load((staged / "MLproject").read_text())
    assert project["entry_points"]["main"]["command"] == "python -m mlkube.recipes --step {step} ."
    mlflow.set_experiment("iris")
    with mlflow.start_run() as active:
        pass  # the operator makes a Run's MLflow run before its pod starts
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", POD],
        cwd=staged,
        env={**env, "MLFLOW_RUN_ID": active.info.run_id},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "strays": []}
    tags = MlflowClient().get_run(active.info.run_id).data.tags
    assert tags["mlkube.recipe.step.split"] == "ran"
    assert tags["mlkube.recipe.step.split.key"]


def test_ingest_refuses_a_positive_class_the_data_cannot_have(
    tracking: str, iris: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(iris, lambda d: d.update(positive_class="setosa"))
    code, _, err = run(iris, capsys, "ingest")
    assert code == 1
    assert "positive_class: only for two classes; 'target' has 3" in err
