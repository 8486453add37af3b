"""The tracking API's endpoints (service.proto's paths and methods) with what each needs of
RBAC, served by app.py under /api/2.0/mlflow and /ajax-api/2.0/mlflow (and /3.0 for tracing);
the endpoints MLflow's server keeps for its web UI; and the need of an artifact path."""

from __future__ import annotations

from collections.abc import Callable

from mlkube import layout
from mlkube.layout import ArtifactPath, LayoutError, Owner
from mlkube_operator.server.auth.needs import (
    EXPERIMENTS,
    LOGGED_MODELS,
    MODEL_VERSIONS,
    RUNS,
    Need,
    create,
    delete,
    get,
    list_,
    update,
)
from mlkube_operator.server.http import (
    artifacts,
    experiments,
    logged_models,
    previews,
    runs,
    traces,
)
from mlkube_operator.server.http.call import Call
from mlkube_operator.server.http.serialize import Json

Handler = Callable[[Call], Json]
FileResolver = Callable[[Call], ArtifactPath]

# (method, path under /2.0/mlflow, handler, what it needs of RBAC)
API: list[tuple[str, str, Handler, Need]] = [
    ("POST", "/experiments/create", experiments.create, create(EXPERIMENTS)),
    ("GET", "/experiments/get", experiments.get, get(EXPERIMENTS)),
    ("GET", "/experiments/get-by-name", experiments.get_by_name, get(EXPERIMENTS)),
    ("POST", "/experiments/search", experiments.search, list_(EXPERIMENTS)),
    ("GET", "/experiments/search", experiments.search, list_(EXPERIMENTS)),
    ("POST", "/experiments/update", experiments.update, update(EXPERIMENTS)),
    ("POST", "/experiments/delete", experiments.delete, delete(EXPERIMENTS)),
    ("POST", "/experiments/restore", experiments.restore, update(EXPERIMENTS)),
    ("POST", "/experiments/set-experiment-tag", experiments.set_tag, update(EXPERIMENTS)),
    ("POST", "/experiments/delete-experiment-tag", experiments.delete_tag, update(EXPERIMENTS)),
    ("POST", "/runs/create", runs.create, create(RUNS)),
    ("GET", "/runs/get", runs.get, get(RUNS)),
    ("POST", "/runs/update", runs.update, update(RUNS)),
    ("POST", "/runs/delete", runs.delete, delete(RUNS)),
    ("POST", "/runs/restore", runs.restore, update(RUNS)),
    ("POST", "/runs/log-metric", runs.log_metric, update(RUNS)),
    ("POST", "/runs/log-parameter", runs.log_param, update(RUNS)),
    ("POST", "/runs/log-batch", runs.log_batch, update(RUNS)),
    ("POST", "/runs/set-tag", runs.set_tag, update(RUNS)),
    ("POST", "/runs/delete-tag", runs.delete_tag, update(RUNS)),
    ("POST", "/runs/log-inputs", runs.log_inputs, update(RUNS)),
    ("POST", "/runs/outputs", runs.log_outputs, update(RUNS)),
    ("POST", "/runs/search", runs.search, list_(RUNS)),
    ("GET", "/metrics/get-history", runs.metric_history, get(RUNS)),
    ("GET", "/metrics/get-history-bulk-interval", runs.metric_history_bulk_interval, get(RUNS)),
    ("GET", "/artifacts/list", artifacts.list_for_run, get(RUNS)),
    ("POST", "/logged-models", logged_models.create, create(LOGGED_MODELS)),
    ("POST", "/logged-models/search", logged_models.search, list_(LOGGED_MODELS)),
    ("GET", "/logged-models/{model_id}", logged_models.get, get(LOGGED_MODELS)),
    ("PATCH", "/logged-models/{model_id}", logged_models.finalize, update(LOGGED_MODELS)),
    ("DELETE", "/logged-models/{model_id}", logged_models.delete, delete(LOGGED_MODELS)),
    ("PATCH", "/logged-models/{model_id}/tags", logged_models.set_tags, update(LOGGED_MODELS)),
    (
        "DELETE",
        "/logged-models/{model_id}/tags/{tag_key}",
        logged_models.delete_tag,
        update(LOGGED_MODELS),
    ),
    ("POST", "/logged-models/{model_id}/params", logged_models.log_params, update(LOGGED_MODELS)),
    (
        "GET",
        "/logged-models/{model_id}/artifacts/directories",
        artifacts.list_for_model,
        get(LOGGED_MODELS),
    ),
]

# MLflow 3's tracing endpoints, under /api/3.0/mlflow and /ajax-api/3.0/mlflow: mlkube keeps no
# traces (traces.py). Reading an experiment's traces is reading the experiment.
API_3: list[tuple[str, str, Handler, Need]] = [
    ("POST", "/traces/metrics", traces.metrics, get(EXPERIMENTS)),
    ("POST", "/traces/search", traces.search, get(EXPERIMENTS)),
]

# What MLflow's server adds for its web UI outside service.proto (mlflow/server/__init__.py),
# under /ajax-api/2.0/mlflow only, as there.
UI_API: list[tuple[str, str, Handler, Need]] = [
    ("POST", "/experiments/search-datasets", experiments.search_datasets, list_(RUNS)),
]

# Files the UI previews, at MLflow's full paths (previews.py): (path, the file asked for, what
# it needs of RBAC). Reading the file found also needs ``get`` on its owner (ARTIFACT_OWNERS).
FILES: list[tuple[str, FileResolver, Need]] = [
    ("/get-artifact", previews.run_file, get(RUNS)),
    (
        "/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
        previews.logged_model_file,
        get(LOGGED_MODELS),
    ),
]

# Whose rights an artifact path follows (needs.py).
ARTIFACT_OWNERS = {
    Owner.RUN: RUNS,
    Owner.MODEL: LOGGED_MODELS,
    Owner.REGISTRY: MODEL_VERSIONS,
    Owner.PROJECT: RUNS,
}


def artifact_need(raw: str, writing: bool) -> Need:
    """Reading an artifact needs ``get`` on its owner; writing one, ``update`` (uploading a
    project archive, ``create`` on runs: it exists to start one). A path of no known shape is
    checked as a run's, and refused as invalid once the caller is known."""
    try:
        path = layout.parse_artifact_path(raw)
    except LayoutError:
        path = None
    resource = RUNS if path is None else ARTIFACT_OWNERS[path.owner]
    if not writing:
        return get(resource)
    return create(RUNS) if path is not None and path.owner is Owner.PROJECT else update(resource)
