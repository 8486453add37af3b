"""The model registry's endpoints (model_registry.proto's paths and methods), served by app.py
under /api/2.0/mlflow and /ajax-api/2.0/mlflow."""

from __future__ import annotations

from mlkube_operator.server.http import registry_models as models
from mlkube_operator.server.http import registry_versions as versions
from mlkube_operator.server.http.registry_call import RegistryHandler

# (method, path under /2.0/mlflow, handler). MLflow's clients send DELETE with a JSON body.
REGISTRY_API: list[tuple[str, str, RegistryHandler]] = [
    ("POST", "/registered-models/create", models.create),
    ("GET", "/registered-models/get", models.get),
    ("GET", "/registered-models/search", models.search_models),
    ("POST", "/registered-models/rename", models.rename),
    ("PATCH", "/registered-models/update", models.update),
    ("DELETE", "/registered-models/delete", models.delete),
    ("POST", "/registered-models/get-latest-versions", models.latest_versions),
    ("GET", "/registered-models/get-latest-versions", models.latest_versions),
    ("POST", "/registered-models/set-tag", models.set_tag),
    ("DELETE", "/registered-models/delete-tag", models.delete_tag),
    ("POST", "/registered-models/alias", models.set_alias),
    ("DELETE", "/registered-models/alias", models.delete_alias),
    ("GET", "/registered-models/alias", models.get_by_alias),
    ("POST", "/model-versions/create", versions.create),
    ("GET", "/model-versions/get", versions.get),
    ("GET", "/model-versions/search", versions.search_versions),
    ("PATCH", "/model-versions/update", versions.update),
    ("DELETE", "/model-versions/delete", versions.delete),
    ("POST", "/model-versions/transition-stage", versions.transition_stage),
    ("GET", "/model-versions/get-download-uri", versions.download_uri),
    ("POST", "/model-versions/set-tag", versions.set_tag),
    ("DELETE", "/model-versions/delete-tag", versions.delete_tag),
]
