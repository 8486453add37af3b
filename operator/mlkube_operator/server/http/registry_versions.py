"""model-versions/*: create, get, search, update, delete, stage transitions, download URI and
tags (MLflow's model registry API, issue 7)."""

from __future__ import annotations

import json
import logging
from typing import Any

from mlkube_operator.server.errors import MlflowError
from mlkube_operator.server.http import registry_serialize as serialize
from mlkube_operator.server.http import registry_sources
from mlkube_operator.server.http.call import search_args
from mlkube_operator.server.http.registry_call import RegistryCall
from mlkube_operator.server.http.serialize import Json, page
from mlkube_operator.server.store.registry import rules
from mlkube_operator.server.store.registry.entities import NewVersion

log = logging.getLogger("mlkube.server.registry")
MODEL_VERSIONS_TAG = "mlflow.modelVersions"
DEFAULT_SEARCH = 10_000
MAX_SEARCH = 200_000


def create(call: RegistryCall) -> Json:
    fields = call.fields
    name = call.name()
    tags = _settable(call.tags())
    source = fields.required_string("source")
    resolved = registry_sources.resolve(
        call, source, fields.string("run_id") or None, fields.string("model_id") or None
    )
    new = NewVersion(
        source=resolved.source,
        storage_source=resolved.storage_source,
        run_id=resolved.run_id,
        model_id=resolved.model_id,
        run_link=fields.string("run_link") or None,
        description=rules.check_description(call.text("description")),
        tags=tags,
    )
    version = call.registry.create_model_version(call.workspace, name, new)
    if version.model_id:
        _link_logged_model(call, version.model_id, version.name, version.version)
    return {"model_version": serialize.model_version(version)}


def _settable(tags: dict[str, str]) -> dict[str, str]:
    for key, value in tags.items():
        rules.check_version_tag(key, value)
    return tags


def _link_logged_model(call: RegistryCall, model_id: str, name: str, number: int) -> None:
    """Record the version on its logged model (tag ``mlflow.modelVersions``), as MLflow's server
    does; best effort, since the version exists already and the client records it too."""
    entry = {"name": name, "version": str(number)}
    try:
        logged = call.tracking.get_logged_model(call.workspace, model_id)
        links: Any = json.loads(logged.tags.get(MODEL_VERSIONS_TAG) or "[]")
        if not isinstance(links, list):
            links = []
        if entry not in links:
            value = json.dumps([*links, entry])
            call.tracking.set_logged_model_tags(
                call.workspace, model_id, {MODEL_VERSIONS_TAG: value}
            )
    except (MlflowError, ValueError) as err:
        log.warning(
            "could not link logged model %s to %s version %d: %s", model_id, name, number, err
        )


def get(call: RegistryCall) -> Json:
    version = call.registry.get_model_version(call.workspace, call.name(), call.version())
    return {"model_version": serialize.model_version(version)}


def search_versions(call: RegistryCall) -> Json:
    args = search_args(call.fields, DEFAULT_SEARCH, MAX_SEARCH)
    found = call.registry.search_model_versions(call.workspace, **args)
    versions = [serialize.model_version(v) for v in found.items]
    return page("model_versions", versions, found)


def update(call: RegistryCall) -> Json:
    name, number = call.name(), call.version()
    description = rules.check_description(call.text("description"))
    version = call.registry.update_model_version(call.workspace, name, number, description)
    return {"model_version": serialize.model_version(version)}


def delete(call: RegistryCall) -> Json:
    call.registry.delete_model_version(call.workspace, call.name(), call.version())
    return {}


def transition_stage(call: RegistryCall) -> Json:
    name, number = call.name(), call.version()
    stage = rules.canonical_stage(call.fields.required_string("stage"))
    archive = bool(call.fields.boolean("archive_existing_versions"))
    rules.check_archiving(stage, archive)
    version = call.registry.transition_model_version_stage(
        call.workspace, name, number, stage, archive
    )
    return {"model_version": serialize.model_version(version)}


def download_uri(call: RegistryCall) -> Json:
    uri = call.registry.get_model_version_download_uri(call.workspace, call.name(), call.version())
    return {"artifact_uri": uri}


def set_tag(call: RegistryCall) -> Json:
    name, number = call.name(), call.version()
    key, value = call.key(), call.text("value")
    rules.check_version_tag(key, value)
    call.registry.set_model_version_tag(call.workspace, name, number, key, value)
    return {}


def delete_tag(call: RegistryCall) -> Json:
    name, number = call.name(), call.version()
    key = call.key()
    rules.check_version_tag(key, "")
    call.registry.delete_model_version_tag(call.workspace, name, number, key)
    return {}
