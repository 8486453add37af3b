"""logged-models (MLflow 3): create, get, finalize, delete, search, tags, params."""

from __future__ import annotations

from mlkube_operator.server.entities import LoggedModelStatus
from mlkube_operator.server.http import serialize
from mlkube_operator.server.http.call import Call, checked_tags, positive_max_results
from mlkube_operator.server.http.serialize import Json
from mlkube_operator.server.limits import (
    MAX_LOGGED_MODEL_PARAM_VALUE,
    MAX_RUN_TAG_VALUE,
    check_key,
    check_length,
)
from mlkube_operator.server.store.tracking import rules


def _params(call: Call) -> dict[str, str]:
    pairs = call.fields.key_values("params")
    for key, value in pairs:
        check_key("param", key)
        check_length(f"value of param {key!r}", value, MAX_LOGGED_MODEL_PARAM_VALUE)
    return rules.check_batch_params(pairs)


def create(call: Call) -> Json:
    fields = call.fields
    model = call.store.create_logged_model(
        call.workspace,
        experiment_id=fields.required_string("experiment_id"),
        name=fields.string("name") or None,
        source_run_id=fields.string("source_run_id") or None,
        model_type=fields.string("model_type") or None,
        params=_params(call),
        tags=checked_tags(fields.key_values("tags"), MAX_RUN_TAG_VALUE),
    )
    return {"model": serialize.logged_model(model)}


def get(call: Call) -> Json:
    model = call.store.get_logged_model(call.workspace, call.path["model_id"])
    return {"model": serialize.logged_model(model)}


def finalize(call: Call) -> Json:
    status = call.fields.enum("status", LoggedModelStatus, required=True)
    assert status is not None
    model = call.store.finalize_logged_model(call.workspace, call.path["model_id"], status)
    return {"model": serialize.logged_model(model)}


def delete(call: Call) -> Json:
    call.store.delete_logged_model(call.workspace, call.path["model_id"])
    return {}


def set_tags(call: Call) -> Json:
    tags = checked_tags(call.fields.key_values("tags"), MAX_RUN_TAG_VALUE)
    model = call.store.set_logged_model_tags(call.workspace, call.path["model_id"], tags)
    return {"model": serialize.logged_model(model)}


def delete_tag(call: Call) -> Json:
    call.store.delete_logged_model_tag(call.workspace, call.path["model_id"], call.path["tag_key"])
    return {}


def log_params(call: Call) -> Json:
    call.store.log_logged_model_params(call.workspace, call.path["model_id"], _params(call))
    return {}


def search(call: Call) -> Json:
    fields = call.fields
    max_results = positive_max_results(fields.integer("max_results"), 100, 50000)
    order_by = []
    for item in fields.messages("order_by"):
        ascending = item.boolean("ascending")
        order_by.append((item.required_string("field_name"), ascending is not False))
    found = call.store.search_logged_models(
        call.workspace,
        fields.strings("experiment_ids"),
        filter_string=fields.string("filter"),
        order_by=order_by,
        max_results=max_results,
        page_token=fields.string("page_token"),
    )
    return serialize.page("models", [serialize.logged_model(m) for m in found.items], found)
