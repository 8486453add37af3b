"""The model registry's endpoints (model_registry.proto's paths and methods), served by app.py
under /api/2.0/mlflow and /ajax-api/2.0/mlflow, and the version file MLflow's web UI reads."""

from __future__ import annotations

from collections.abc import Callable

from mlkube.layout import ArtifactPath
from mlkube_operator.server.auth.needs import (
    LOGGED_MODELS,
    MODEL_VERSIONS,
    REGISTERED_MODELS,
    RUNS,
    Need,
    create,
    delete,
    get,
    list_,
    update,
)
from mlkube_operator.server.http import previews
from mlkube_operator.server.http import registry_models as models
from mlkube_operator.server.http import registry_versions as versions
from mlkube_operator.server.http.registry_call import RegistryCall, RegistryHandler

# (method, path under /2.0/mlflow, handler, what it needs of RBAC). MLflow's clients send DELETE
# with a JSON body. Aliases live in the RegisteredModel's spec: setting one updates the model.
REGISTRY_API: list[tuple[str, str, RegistryHandler, Need | tuple[Need, ...]]] = [
    ("POST", "/registered-models/create", models.create, create(REGISTERED_MODELS)),
    ("GET", "/registered-models/get", models.get, get(REGISTERED_MODELS)),
    ("GET", "/registered-models/search", models.search_models, list_(REGISTERED_MODELS)),
    ("POST", "/registered-models/rename", models.rename, update(REGISTERED_MODELS)),
    ("PATCH", "/registered-models/update", models.update, update(REGISTERED_MODELS)),
    ("DELETE", "/registered-models/delete", models.delete, delete(REGISTERED_MODELS)),
    (
        "POST",
        "/registered-models/get-latest-versions",
        models.latest_versions,
        list_(MODEL_VERSIONS),
    ),
    (
        "GET",
        "/registered-models/get-latest-versions",
        models.latest_versions,
        list_(MODEL_VERSIONS),
    ),
    ("POST", "/registered-models/set-tag", models.set_tag, update(REGISTERED_MODELS)),
    ("DELETE", "/registered-models/delete-tag", models.delete_tag, update(REGISTERED_MODELS)),
    ("POST", "/registered-models/alias", models.set_alias, update(REGISTERED_MODELS)),
    ("DELETE", "/registered-models/alias", models.delete_alias, update(REGISTERED_MODELS)),
    ("GET", "/registered-models/alias", models.get_by_alias, get(MODEL_VERSIONS)),
    # A version copies its source's files, which the caller must be able to read themselves.
    (
        "POST",
        "/model-versions/create",
        versions.create,
        (create(MODEL_VERSIONS), get(RUNS), get(LOGGED_MODELS)),
    ),
    ("GET", "/model-versions/get", versions.get, get(MODEL_VERSIONS)),
    ("GET", "/model-versions/search", versions.search_versions, list_(MODEL_VERSIONS)),
    ("PATCH", "/model-versions/update", versions.update, update(MODEL_VERSIONS)),
    ("DELETE", "/model-versions/delete", versions.delete, delete(MODEL_VERSIONS)),
    ("POST", "/model-versions/transition-stage", versions.transition_stage, update(MODEL_VERSIONS)),
    ("GET", "/model-versions/get-download-uri", versions.download_uri, get(MODEL_VERSIONS)),
    ("POST", "/model-versions/set-tag", versions.set_tag, update(MODEL_VERSIONS)),
    ("DELETE", "/model-versions/delete-tag", versions.delete_tag, update(MODEL_VERSIONS)),
]

# The version page reads the version's MLmodel through this (MLflow serves it for its web UI,
# outside model_registry.proto): (path, the file asked for, what it needs of RBAC). Until the
# version is registered its files are its source's, which also needs ``get`` on their owner.
VersionFileResolver = Callable[[RegistryCall], ArtifactPath]
REGISTRY_FILES: list[tuple[str, VersionFileResolver, Need]] = [
    ("/model-versions/get-artifact", previews.version_file, get(MODEL_VERSIONS)),
]
