"""experiments/*: create, get, get-by-name, search, update, delete, restore, tags; and
search-datasets, which only MLflow's web UI calls (the runs table's dataset filter)."""

from __future__ import annotations

from mlkube_operator.server.entities import ViewType
from mlkube_operator.server.errors import invalid
from mlkube_operator.server.http import serialize
from mlkube_operator.server.http.call import Call, checked_tags, experiment_ids, search_args
from mlkube_operator.server.http.serialize import Json
from mlkube_operator.server.limits import (
    DEFAULT_SEARCH_EXPERIMENTS,
    MAX_DATASET_SEARCH_EXPERIMENTS,
    MAX_EXPERIMENT_NAME,
    MAX_EXPERIMENT_TAG_VALUE,
    MAX_SEARCH_EXPERIMENTS,
    check_key,
    check_length,
)


def _name(call: Call, field: str) -> str:
    name = call.fields.string(field)
    if not name:
        raise invalid(f"'{field}' must be a non-empty string")
    check_length("experiment name", name, MAX_EXPERIMENT_NAME)
    return name


def create(call: Call) -> Json:
    name = _name(call, "name")
    location = call.fields.string("artifact_location") or None
    tags = checked_tags(call.fields.key_values("tags"), MAX_EXPERIMENT_TAG_VALUE)
    experiment_id = call.store.create_experiment(call.workspace, name, location, tags)
    return {"experiment_id": experiment_id}


def get(call: Call) -> Json:
    experiment_id = call.fields.required_string("experiment_id")
    return {
        "experiment": serialize.experiment(call.store.get_experiment(call.workspace, experiment_id))
    }


def get_by_name(call: Call) -> Json:
    name = call.fields.required_string("experiment_name")
    return {
        "experiment": serialize.experiment(call.store.get_experiment_by_name(call.workspace, name))
    }


def search(call: Call) -> Json:
    args = search_args(call.fields, DEFAULT_SEARCH_EXPERIMENTS, MAX_SEARCH_EXPERIMENTS)
    view = call.fields.enum("view_type", ViewType) or ViewType.ACTIVE_ONLY
    found = call.store.search_experiments(call.workspace, view, **args)
    return serialize.page("experiments", [serialize.experiment(e) for e in found.items], found)


def update(call: Call) -> Json:
    experiment_id = call.fields.required_string("experiment_id")
    new_name = _name(call, "new_name")
    call.store.rename_experiment(call.workspace, experiment_id, new_name)
    return {}


def delete(call: Call) -> Json:
    call.store.delete_experiment(call.workspace, call.fields.required_string("experiment_id"))
    return {}


def restore(call: Call) -> Json:
    call.store.restore_experiment(call.workspace, call.fields.required_string("experiment_id"))
    return {}


def set_tag(call: Call) -> Json:
    experiment_id = call.fields.required_string("experiment_id")
    key = call.fields.string("key", required=True) or ""
    value = call.fields.string("value") or ""  # MLflow takes a missing value as empty
    check_key("tag", key)
    check_length(f"value of tag {key!r}", value, MAX_EXPERIMENT_TAG_VALUE)
    call.store.set_experiment_tag(call.workspace, experiment_id, key, value)
    return {}


def delete_tag(call: Call) -> Json:
    experiment_id = call.fields.required_string("experiment_id")
    key = call.fields.required_string("key")
    call.store.delete_experiment_tag(call.workspace, experiment_id, key)
    return {}


def search_datasets(call: Call) -> Json:
    """The datasets the experiments' runs logged as inputs (TrackingStore.dataset_summaries)."""
    ids = experiment_ids(call.fields, MAX_DATASET_SEARCH_EXPERIMENTS)
    summaries = call.store.dataset_summaries(call.workspace, ids)
    if not summaries:
        return {}  # protobuf's JSON leaves an empty list out, as MLflow's answer does
    return {"dataset_summaries": [serialize.dataset_summary(s) for s in summaries]}
