"""What the UI tests look at, logged through the stock ``mlflow`` client: the same calls on any
tracking server, so the pages have the same things to show on ``mlflow server`` and on mlkube.

An experiment with three runs that differ in ``alpha`` (one is ``0.05``, the value the search box
filters on) and in the metrics they end with, each metric a history of steps; tags; a
description; on the best run, one artifact of each kind the artifact viewer previews (text, CSV,
JSON, image, HTML) and an sklearn model with a signature, registered as version 1 of a model with
an alias, tags and a stage.
"""

from __future__ import annotations

import io
import json
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient

EXPERIMENT = "ui-elasticnet"
MODEL = "ui-elasticnet-model"
ALIAS = "champion"
STAGE = "Staging"
STEPS = 12
# alpha -> the rmse the run ends with; the best run (lowest rmse) carries the artifacts and model.
ALPHAS = {"0.05": 0.41, "0.3": 0.58, "0.9": 0.77}
BEST_ALPHA = "0.05"
DESCRIPTION = "Elastic net on the wine data, for the UI tests."
EDITED_DESCRIPTION = "Edited from the run page by the UI test."
TEXT = "hello from the UI test\n"
CSV = "fixed_acidity,quality\n7.4,5\n7.8,6\n"
JSON_DOC = {"alpha": 0.05, "l1_ratio": 0.1}
HTML = "<html><body><h1>UI report</h1><p>rendered by the artifact viewer</p></body></html>\n"
KUBERNETES_TAG_PREFIX = "mlkube.kubernetes."


@dataclass(frozen=True)
class Logged:
    """The ids the page script navigates by."""

    experiment_id: str
    run_ids: dict[str, str]  # alpha -> run id
    model_id: str  # the logged model's id (m-...)
    model_version: str

    @property
    def best_run(self) -> str:
        return self.run_ids[BEST_ALPHA]


@contextmanager
def pointed_at(uri: str, workspace: str | None) -> Iterator[None]:
    """The fluent API aimed at ``uri`` (and ``workspace``) for the block, then reset."""
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow.set_workspace(workspace)
    try:
        yield
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_workspace(None)
        mlflow.set_registry_uri(None)  # type: ignore[arg-type]  # None resets to the default
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # None resets to the default


def png() -> bytes:
    """A small line plot (matplotlib's Agg backend draws without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(3, 2))
    axes.plot(range(STEPS), [1 / (step + 1) for step in range(STEPS)])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def log_artifacts(work: Path) -> None:
    (work / "notes.txt").write_text(TEXT)
    (work / "data").mkdir()
    (work / "data" / "sample.csv").write_text(CSV)
    (work / "config.json").write_text(json.dumps(JSON_DOC))
    (work / "plots").mkdir()
    (work / "plots" / "curve.png").write_bytes(png())
    (work / "report.html").write_text(HTML)
    mlflow.log_artifacts(str(work))


def log_model() -> str:
    """An sklearn ElasticNet with its signature and an input example; returns the logged model's
    id."""
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import ElasticNet

    features = pd.DataFrame(
        {"fixed_acidity": [7.4, 7.8, 11.2, 6.7], "alcohol": [9.4, 9.8, 9.8, 10.5]}
    )
    target = np.array([5.0, 5.0, 6.0, 6.0])
    model = ElasticNet(alpha=float(BEST_ALPHA), l1_ratio=0.1).fit(features, target)
    signature = infer_signature(features, model.predict(features))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = mlflow.sklearn.log_model(
            model, name="model", signature=signature, input_example=features.head(2)
        )
    return str(info.model_id)


def log_run(alpha: str, final_rmse: float, best: bool) -> tuple[str, str | None]:
    with mlflow.start_run(run_name=f"alpha-{alpha}") as run:
        mlflow.log_params({"alpha": alpha, "l1_ratio": "0.1", "solver": "cd"})
        mlflow.set_tags({"team": "ml-platform", "data": "wine"})
        start = final_rmse + 0.5
        for step in range(STEPS):
            rmse = start - (start - final_rmse) * step / (STEPS - 1)
            mlflow.log_metrics({"rmse": rmse, "r2": 1 - rmse}, step=step)
        mlflow.log_metric("mae", final_rmse * 0.8)
        model_id = None
        if best:
            mlflow.set_tag("mlflow.note.content", DESCRIPTION)
            with tempfile.TemporaryDirectory() as work:
                log_artifacts(Path(work))
            model_id = log_model()
        return run.info.run_id, model_id


def log_everything(uri: str, workspace: str | None) -> Logged:
    """Logs the experiment, its runs and the registered model on the server at ``uri``."""
    with pointed_at(uri, workspace):
        experiment_id = mlflow.set_experiment(EXPERIMENT).experiment_id
        mlflow.set_experiment_tag("purpose", "ui-test")
        run_ids: dict[str, str] = {}
        model_id = ""
        for alpha, rmse in ALPHAS.items():
            run_ids[alpha], logged = log_run(alpha, rmse, best=alpha == BEST_ALPHA)
            model_id = logged or model_id
        client = MlflowClient()
        version = mlflow.register_model(f"models:/{model_id}", MODEL).version
        client.update_registered_model(MODEL, description="The UI test's model.")
        client.set_registered_model_tag(MODEL, "owner", "ml-platform")
        client.set_registered_model_alias(MODEL, ALIAS, version)
        client.set_model_version_tag(MODEL, version, "validated", "yes")
        client.update_model_version(MODEL, version, description="First version.")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # stages are deprecated in MLflow, the UI shows them
            client.transition_model_version_stage(MODEL, version, STAGE)
        return Logged(experiment_id, run_ids, model_id, str(version))
