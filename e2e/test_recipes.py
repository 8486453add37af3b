"""Issue 15: recipes from `mlkube recipes init` to a Ready ModelVersion, in this process (the
local profile) and as a Run on the cluster (the cluster profile); refusals, caching, and the step
cards as a browser shows them.

Screenshots of the cards are kept in build/screenshots/recipes/ (or $MLKUBE_SCREENSHOTS).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow.tracking import MlflowClient

from e2e.cluster.cluster import ROOT, LocalCluster
from e2e.ui.browser import CHROMIUM

SCREENSHOTS = Path(os.environ.get("MLKUBE_SCREENSHOTS", ROOT / "build" / "screenshots" / "recipes"))
TRAINING = ("ingest", "split", "transform", "train", "evaluate", "register")


def recipes(cluster: LocalCluster, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    return cluster.mlkube("recipes", *args, env={"MLKUBE_NAMESPACE": namespace}, timeout=900)


def init(cluster: LocalCluster, namespace: str, kind: str, directory: Path) -> Path:
    done = recipes(cluster, namespace, "init", kind, str(directory))
    assert done.returncode == 0, done.stderr
    return directory


def edit(directory: Path, change: Any) -> None:
    path = directory / "recipe.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def states(output: str) -> dict[str, str]:
    """What each step did, as the command printed it: `train: ran ...`, `split: cached ...`."""
    found = re.findall(r"^(\w+): (ran|cached|refused)\b", output, flags=re.MULTILINE)
    return dict(found)


def versions(cluster: LocalCluster, namespace: str, model: str) -> dict[int, str]:
    """The model's ModelVersion resources: version -> phase."""
    items = cluster.get_json(namespace, "modelversions")["items"]
    return {
        item["status"]["version"]: item["status"].get("phase")
        for item in items
        if item["spec"]["model"] == model and "version" in (item.get("status") or {})
    }


def aliases(cluster: LocalCluster, namespace: str, model: str) -> dict[str, int]:
    found: dict[str, int] = cluster.get_json(namespace, "registeredmodel", model)["spec"].get(
        "aliases", {}
    )
    return found


def printed(pattern: str, output: str) -> str:
    """The first group of the first line of ``output`` that matches ``pattern``."""
    found = re.search(pattern, output, flags=re.MULTILINE)
    assert found, f"no line matches {pattern!r} in:\n{output}"
    return found[1]


def run_id(output: str) -> str:
    """The MLflow run of a local run, as the command printed it."""
    return printed(r"^recipe \S+: run ([0-9a-f]{32})", output)


def run_name(output: str) -> str:
    """The Run resource the cluster profile created."""
    return printed(r"^run/(\S+) created", output)


@pytest.fixture
def client(tracking_uri: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.setenv("MLFLOW_WORKSPACE", namespace)  # the namespace is the MLflow workspace
    return MlflowClient(tracking_uri)


def open_cards(client: MlflowClient, run: str, into: Path, name: str) -> dict[str, str]:
    """Every card of the run, opened in headless Chromium with the network cut: step -> the
    text it shows. Asserts each renders its plots, and keeps a screenshot of each."""
    from playwright.sync_api import sync_playwright

    folder = Path(client.download_artifacts(run, "cards", str(into)))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shown: dict[str, str] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            fetched: list[str] = []
            page.route(
                re.compile(r"^(?!file:)"),
                lambda route: (fetched.append(route.request.url), route.abort()),
            )
            for card in sorted(folder.glob("*.html")):
                page.goto(card.as_uri())
                step = card.stem
                plots = page.locator("figure svg")
                for i in range(plots.count()):
                    box = plots.nth(i).bounding_box() or {"width": 0, "height": 0}
                    assert min(box["width"], box["height"]) > 100, f"{step}: a plot is not drawn"
                if step not in {"transform", "register"}:
                    assert plots.count() >= 1, f"the {step} card shows no plot"
                shown[step] = page.inner_text("body")
                page.screenshot(path=str(SCREENSHOTS / f"{name}-{step}.png"), full_page=True)
            assert fetched == [], "a card asked the network for something"
        finally:
            browser.close()
    return shown


def test_a_regression_recipe_registers_here_caches_its_steps_and_scores(
    operator: LocalCluster, namespace: str, client: MlflowClient, tmp_path: Path
) -> None:
    """The local profile: the steps run in the command's own process, against the tracking
    server; a change to the estimator's settings retrains and reuses the rest."""
    recipe = init(operator, namespace, "regression", tmp_path / "diabetes")
    first = recipes(operator, namespace, "run", str(recipe), "--profile", "local")
    assert first.returncode == 0, first.stderr + first.stdout
    assert states(first.stdout) == dict.fromkeys(TRAINING, "ran")
    assert versions(operator, namespace, "diabetes") == {1: "Ready"}
    assert aliases(operator, namespace, "diabetes") == {"champion": 1}
    tags = client.get_model_version("diabetes", "1").tags
    assert tags["mlkube.recipe.run_id"] == run_id(first.stdout)
    assert tags["mlkube.recipe.validation"] == "passed"
    assert float(tags["mlkube.recipe.test_rmse"]) > 0

    edit(recipe, lambda d: d["steps"]["train"]["estimator_params"].update(alpha=0.2))
    second = recipes(operator, namespace, "run", str(recipe), "--profile", "local")
    assert second.returncode == 0, second.stderr + second.stdout
    assert states(second.stdout) == {
        "ingest": "cached",
        "split": "cached",
        "transform": "cached",
        "train": "ran",
        "evaluate": "ran",
        "register": "ran",
    }
    assert versions(operator, namespace, "diabetes") == {1: "Ready", 2: "Ready"}
    assert aliases(operator, namespace, "diabetes") == {"champion": 2}
    latest = client.get_run(run_id(second.stdout))
    assert latest.data.params["train.alpha"] == "0.2"
    assert latest.data.tags["mlkube.recipe.step.split"] == "cached"
    assert {"train_rmse", "validation_rmse", "test_rmse", "baseline_test_rmse"} <= set(
        latest.data.metrics
    )

    scored = recipes(operator, namespace, "run", str(recipe), "--step", "predict")
    assert scored.returncode == 0, scored.stderr + scored.stdout
    assert states(scored.stdout) == {"ingest": "cached", "predict": "ran"}
    predictions = Path(
        client.download_artifacts(
            run_id(scored.stdout), "recipe/predict/predictions.csv", str(tmp_path)
        )
    ).read_text()
    header, *rows = predictions.splitlines()
    assert header.endswith(",prediction")
    assert len(rows) == 442  # every row of the diabetes data

    cards = open_cards(client, run_id(second.stdout), tmp_path / "cards", "regression")
    assert set(cards) == set(TRAINING)
    assert "442 rows" in cards["ingest"]
    test_rmse = f"{latest.data.metrics['test_rmse']:.4g}"
    assert "rmse (primary)" in cards["evaluate"]
    assert test_rmse in cards["evaluate"]
    assert "Worst test predictions" in cards["evaluate"]
    assert f"{latest.data.metrics['validation_rmse']:.4g}" in cards["train"]
    assert "diabetes version 2" in cards["register"]


def test_a_classification_recipe_registers_here(
    operator: LocalCluster, namespace: str, tmp_path: Path
) -> None:
    recipe = init(operator, namespace, "classification", tmp_path / "cancer")
    done = recipes(operator, namespace, "run", str(recipe), "--profile", "local")
    assert done.returncode == 0, done.stderr + done.stdout
    assert states(done.stdout) == dict.fromkeys(TRAINING, "ran")
    assert versions(operator, namespace, "cancer") == {1: "Ready"}


def test_a_regression_recipe_registers_as_a_run(
    operator: LocalCluster, namespace: str, tmp_path: Path
) -> None:
    recipe = init(operator, namespace, "regression", tmp_path / "diabetes")
    done = recipes(operator, namespace, "run", str(recipe), "--profile", "cluster")
    assert done.returncode == 0, done.stderr + done.stdout
    name = run_name(done.stdout)
    run = operator.get_json(namespace, "run", name)
    assert run["status"]["phase"] == "Succeeded"
    assert run["spec"]["experiment"] == "diabetes"
    assert states(done.stdout) == dict.fromkeys(TRAINING, "ran")
    assert versions(operator, namespace, "diabetes") == {1: "Ready"}
    # Run pods may not move aliases; the command does, as the user, once the Run succeeded.
    assert aliases(operator, namespace, "diabetes") == {"champion": 1}


def test_a_classifier_that_misses_a_criterion_is_refused_then_registers_as_a_run(
    operator: LocalCluster, namespace: str, client: MlflowClient, tmp_path: Path
) -> None:
    """No F1 reaches 1.01: the Run fails naming the metric, its value and the threshold, and
    nothing is registered. With a bar it can clear, a second Run reuses what the first pod
    computed (found through the tracking server) and registers."""
    recipe = init(operator, namespace, "classification", tmp_path / "cancer")
    edit(recipe, lambda d: d["steps"]["evaluate"]["validation_criteria"][0].update(threshold=1.01))
    refused = recipes(operator, namespace, "run", str(recipe), "--profile", "cluster")
    assert refused.returncode == 1, refused.stderr + refused.stdout
    name = run_name(refused.stdout)
    status = operator.get_json(namespace, "run", name)["status"]
    assert status["phase"] == "Failed"
    first_line = status["message"].splitlines()[0]
    assert re.fullmatch(
        r"mlkube\.recipes\.errors\.ModelNotValidated: model 'cancer' was not registered: it "
        r"failed 1 of 2 validation criteria: test f1 = 0\.9\d+, threshold: at least 1\.01 .*",
        first_line,
    ), first_line
    assert states(refused.stdout)["register"] == "refused"
    assert versions(operator, namespace, "cancer") == {}
    assert client.search_model_versions("name = 'cancer'") == []

    edit(recipe, lambda d: d["steps"]["evaluate"]["validation_criteria"][0].update(threshold=0.85))
    passed = recipes(operator, namespace, "run", str(recipe), "--profile", "cluster")
    assert passed.returncode == 0, passed.stderr + passed.stdout
    assert states(passed.stdout) == {
        "ingest": "cached",
        "split": "cached",
        "transform": "cached",
        "train": "cached",
        "evaluate": "ran",
        "register": "ran",
    }
    assert versions(operator, namespace, "cancer") == {1: "Ready"}
    run = operator.get_json(namespace, "run", run_name(passed.stdout))["status"]["runId"]
    cards = open_cards(client, run, tmp_path / "cards", "classification")
    assert set(cards) == set(TRAINING)
    assert "f1 (primary)" in cards["evaluate"]
    assert "ROC curve" in cards["evaluate"]
    assert "precision-recall curve" in cards["evaluate"]
