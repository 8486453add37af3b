"""Where a run's artifacts are: the URIs clients use and the object keys behind them.

Pure functions, no I/O, shared by the operator (which writes ``Run.status.artifactUri`` for
project runs and ``Experiment.status.artifactLocation``), the tracking server (which writes them
for tracking-only runs and answers the REST API) and anything in the SDK that needs them, so that
``kubectl get run -o yaml``, the REST API and the code inside a Run's pod see one URI (issue 12).

A client is handed ``mlflow-artifacts:/<experimentId>/<runId>/artifacts``: the stock ``mlflow``
client resolves it against its tracking URI and goes through the tracking server's artifact proxy,
so a Run's pod needs no object-store credentials. The proxy maps that path to the object key
``<namespace>/experiments/<experimentId>/<runId>/artifacts/...`` (ARCHITECTURE.md, "Object storage
layout"). An experiment created with an explicit ``s3://`` artifact location keeps it: its runs'
URIs are under it, and its clients read and write there directly.
"""

from __future__ import annotations

ARTIFACTS_SCHEME = "mlflow-artifacts"
ARTIFACTS_ROOT = f"{ARTIFACTS_SCHEME}:/"


def experiment_artifact_location(experiment_id: str, custom: str | None = None) -> str:
    """An experiment's artifact location: ``custom`` (its spec.artifactLocation) when given,
    else ``mlflow-artifacts:/<experimentId>``."""
    return custom or f"{ARTIFACTS_ROOT}{experiment_id}"


def run_artifact_uri(experiment_location: str, run_id: str) -> str:
    """A run's artifact URI, under its experiment's artifact location (see
    ``experiment_artifact_location``): ``mlflow-artifacts:/<experimentId>/<runId>/artifacts``
    by default."""
    return f"{experiment_location.rstrip('/')}/{run_id}/artifacts"


def logged_model_artifact_uri(experiment_location: str, model_id: str) -> str:
    """A logged model's artifact URI: ``<experiment location>/models/<modelId>/artifacts``."""
    return f"{experiment_location.rstrip('/')}/models/{model_id}/artifacts"


def experiment_key_prefix(namespace: str, experiment_id: str) -> str:
    """The object-key prefix of an experiment's runs and logged models (no validation: callers
    that take ids from a request check them first)."""
    return f"{namespace}/experiments/{experiment_id}/"


def run_artifacts_key_prefix(namespace: str, experiment_id: str, run_id: str) -> str:
    """Where ``mlflow-artifacts:/<experimentId>/<runId>/artifacts/<path>`` is stored."""
    return f"{experiment_key_prefix(namespace, experiment_id)}{run_id}/artifacts/"


def logged_model_artifacts_key_prefix(namespace: str, experiment_id: str, model_id: str) -> str:
    """Where ``mlflow-artifacts:/<experimentId>/models/<modelId>/artifacts/<path>`` is stored."""
    return f"{experiment_key_prefix(namespace, experiment_id)}models/{model_id}/artifacts/"
