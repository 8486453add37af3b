"""registered-models/*: create, get, search, rename, update, delete, latest versions, tags and
aliases (MLflow's model registry API, issue 7)."""

from __future__ import annotations

from mlkube_operator.server.http import registry_serialize as serialize
from mlkube_operator.server.http.call import search_args
from mlkube_operator.server.http.registry_call import RegistryCall
from mlkube_operator.server.http.serialize import Json, page
from mlkube_operator.server.store.registry import rules

DEFAULT_SEARCH = 100
MAX_SEARCH = 1000


def create(call: RegistryCall) -> Json:
    name = call.name()
    description = rules.check_description(call.text("description"))
    model = call.registry.create_registered_model(call.workspace, name, description, call.tags())
    return {"registered_model": serialize.registered_model(model)}


def get(call: RegistryCall) -> Json:
    model = call.registry.get_registered_model(call.workspace, call.name())
    return {"registered_model": serialize.registered_model(model)}


def search_models(call: RegistryCall) -> Json:
    args = search_args(call.fields, DEFAULT_SEARCH, MAX_SEARCH)
    found = call.registry.search_registered_models(call.workspace, **args)
    models = [serialize.registered_model(m) for m in found.items]
    return page("registered_models", models, found)


def rename(call: RegistryCall) -> Json:
    name = call.name()
    new_name = call.name("new_name")
    model = call.registry.rename_registered_model(call.workspace, name, new_name)
    return {"registered_model": serialize.registered_model(model)}


def update(call: RegistryCall) -> Json:
    name = call.name()
    description = rules.check_description(call.text("description"))
    model = call.registry.update_registered_model(call.workspace, name, description)
    return {"registered_model": serialize.registered_model(model)}


def delete(call: RegistryCall) -> Json:
    call.registry.delete_registered_model(call.workspace, call.name())
    return {}


def latest_versions(call: RegistryCall) -> Json:
    name = call.name()
    stages = [rules.canonical_stage(s) for s in call.fields.strings("stages")]
    versions = call.registry.get_latest_versions(call.workspace, name, stages)
    return {"model_versions": [serialize.model_version(v) for v in versions]}


def set_tag(call: RegistryCall) -> Json:
    name = call.name()
    key, value = call.key(), call.text("value")
    rules.check_tag(key, value)
    call.registry.set_registered_model_tag(call.workspace, name, key, value)
    return {}


def delete_tag(call: RegistryCall) -> Json:
    name = call.name()
    key = call.key()
    rules.check_tag(key, "")
    call.registry.delete_registered_model_tag(call.workspace, name, key)
    return {}


def set_alias(call: RegistryCall) -> Json:
    name = call.name()
    alias = rules.check_settable_alias(call.fields.string("alias"))
    call.registry.set_registered_model_alias(call.workspace, name, alias, call.version())
    return {}


def delete_alias(call: RegistryCall) -> Json:
    name = call.name()
    alias = rules.check_alias(call.fields.string("alias"))
    call.registry.delete_registered_model_alias(call.workspace, name, alias)
    return {}


def get_by_alias(call: RegistryCall) -> Json:
    name = call.name()
    alias = rules.check_alias(call.fields.string("alias"))
    version = call.registry.get_model_version_by_alias(call.workspace, name, alias)
    return {"model_version": serialize.model_version(version)}
