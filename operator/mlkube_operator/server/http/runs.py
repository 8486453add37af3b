"""runs/*: create, get, update, delete, restore, log-*, set/delete tag, inputs, outputs, search;
metrics/get-history and metrics/get-history-bulk-interval."""

from __future__ import annotations

import json

from mlkube.projects.tags import KUBERNETES_PREFIX
from mlkube_operator.server import metric_sampling
from mlkube_operator.server.entities import DatasetInput, Metric, ModelOutput, RunStatus, ViewType
from mlkube_operator.server.errors import invalid
from mlkube_operator.server.http import serialize
from mlkube_operator.server.http.call import Call, checked_tags, positive_max_results, search_args
from mlkube_operator.server.http.fields import Fields, missing
from mlkube_operator.server.http.serialize import Json
from mlkube_operator.server.limits import (
    DEFAULT_SEARCH_RUNS,
    MAX_BATCH_BYTES,
    MAX_BATCH_ENTITIES,
    MAX_BATCH_METRICS,
    MAX_BATCH_PARAMS,
    MAX_BATCH_TAGS,
    MAX_DATASET_DIGEST,
    MAX_DATASET_NAME,
    MAX_DATASET_PROFILE,
    MAX_DATASET_SCHEMA,
    MAX_DATASET_SOURCE,
    MAX_HISTORY_PAGE,
    MAX_INTERVAL_POINTS,
    MAX_INTERVAL_RUNS,
    MAX_PARAM_VALUE,
    MAX_RUN_NAME,
    MAX_RUN_TAG_VALUE,
    MAX_SEARCH_RUNS,
    check_key,
    check_length,
    truncated,
)
from mlkube_operator.server.search import paging
from mlkube_operator.server.store.tracking import rules


def _metric(fields: Fields) -> Metric:
    key = fields.string("key", required=True) or ""
    check_key("metric", key)
    value = fields.number("value", required=True)
    timestamp = fields.integer("timestamp", required=True)
    assert value is not None
    assert timestamp is not None
    return Metric(
        key=key,
        value=value,
        timestamp=timestamp,
        step=fields.integer("step") or 0,
        model_id=fields.string("model_id") or None,
        dataset_name=fields.string("dataset_name") or None,
        dataset_digest=fields.string("dataset_digest") or None,
    )


def _params(pairs: list[tuple[str, str]]) -> dict[str, str]:
    for key, _ in pairs:
        check_key("param", key)
    return rules.check_batch_params([(k, truncated(v, MAX_PARAM_VALUE)) for k, v in pairs])


def _run_tags(pairs: list[tuple[str, str]]) -> dict[str, str]:
    for key, _ in pairs:
        _writable(key)
    return checked_tags(pairs, MAX_RUN_TAG_VALUE, truncate=True)


def _writable(key: str) -> None:
    """Refuse the keys mlkube derives from the Run object when it serves a run: a client's value
    would be hidden by the fact (set) or come back on the next read (delete)."""
    if key.startswith(KUBERNETES_PREFIX):
        raise invalid(
            f"tag {key!r} is set by mlkube from the Run's Kubernetes state and cannot be set "
            f"or deleted through the API; tags under {KUBERNETES_PREFIX!r} are reserved, use "
            "another key"
        )


def create(call: Call) -> Json:
    fields = call.fields
    run_name = fields.string("run_name") or None
    if run_name:
        check_length("run_name", run_name, MAX_RUN_NAME)
    run = call.store.create_run(
        call.workspace,
        experiment_id=fields.string("experiment_id") or "0",
        user_id=fields.string("user_id") or "",
        run_name=run_name,
        start_time=fields.integer("start_time"),
        tags=_run_tags(fields.key_values("tags")),
    )
    return {"run": serialize.run(run)}


def get(call: Call) -> Json:
    return {"run": serialize.run(call.store.get_run(call.workspace, call.fields.run_id()))}


def update(call: Call) -> Json:
    fields = call.fields
    run_name = fields.string("run_name") or None
    if run_name:
        check_length("run_name", run_name, MAX_RUN_NAME)
    info = call.store.update_run(
        call.workspace,
        fields.run_id(),
        status=fields.enum("status", RunStatus),
        end_time=fields.integer("end_time"),
        run_name=run_name,
    )
    return {"run_info": serialize.run_info(info)}


def delete(call: Call) -> Json:
    call.store.delete_run(call.workspace, call.fields.run_id())
    return {}


def restore(call: Call) -> Json:
    call.store.restore_run(call.workspace, call.fields.run_id())
    return {}


def log_metric(call: Call) -> Json:
    metric = _metric(call.fields)
    call.store.log_batch(call.workspace, call.fields.run_id(), [metric], {}, {})
    return {}


def log_param(call: Call) -> Json:
    key = call.fields.string("key", required=True) or ""
    value = call.fields.string("value", required=True)
    assert value is not None
    params = _params([(key, value)])
    call.store.log_batch(call.workspace, call.fields.run_id(), [], params, {})
    return {}


def set_tag(call: Call) -> Json:
    key = call.fields.string("key", required=True) or ""
    value = call.fields.string("value", required=True)
    assert value is not None
    tags = _run_tags([(key, value)])
    call.store.log_batch(call.workspace, call.fields.run_id(), [], {}, tags)
    return {}


def delete_tag(call: Call) -> Json:
    key = call.fields.required_string("key")
    _writable(key)
    call.store.delete_tag(call.workspace, call.fields.run_id(), key)
    return {}


def log_batch(call: Call) -> Json:
    fields = call.fields
    metric_fields = fields.messages("metrics")
    param_pairs = fields.key_values("params")
    tag_pairs = fields.key_values("tags")
    counts = (len(metric_fields), len(param_pairs), len(tag_pairs))
    for count, limit, what in zip(
        counts,
        (MAX_BATCH_METRICS, MAX_BATCH_PARAMS, MAX_BATCH_TAGS),
        ("metrics", "params", "tags"),
        strict=True,
    ):
        if count > limit:
            raise invalid(
                f"a batch may hold at most {limit} {what}, this one has {count}; split it"
            )
    if sum(counts) > MAX_BATCH_ENTITIES:
        raise invalid(f"a batch may hold at most {MAX_BATCH_ENTITIES} entities, got {sum(counts)}")
    size = len(json.dumps(fields.data, separators=(",", ":")))
    if size > MAX_BATCH_BYTES:
        raise invalid(f"a batch may be at most {MAX_BATCH_BYTES} bytes, this one is {size}")
    metrics = [_metric(m) for m in metric_fields]
    params = _params(param_pairs)
    tags = _run_tags(tag_pairs)
    call.store.log_batch(call.workspace, fields.run_id(), metrics, params, tags)
    return {}


def _dataset(item: Fields) -> DatasetInput:
    dataset = item.message("dataset")
    if dataset is None:
        raise invalid(f"'{item.where}dataset' is required")
    name = dataset.required_string("name")
    digest = dataset.required_string("digest")
    source_type = dataset.required_string("source_type")
    source = dataset.required_string("source")
    schema, profile = dataset.string("schema"), dataset.string("profile")
    check_length("dataset name", name, MAX_DATASET_NAME)
    check_length("dataset digest", digest, MAX_DATASET_DIGEST)
    check_length("dataset source", source, MAX_DATASET_SOURCE)
    check_length("dataset schema", schema or "", MAX_DATASET_SCHEMA)
    check_length("dataset profile", profile or "", MAX_DATASET_PROFILE)
    tags = checked_tags(item.key_values("tags"), MAX_RUN_TAG_VALUE)
    return DatasetInput(name, digest, source_type, source, schema, profile, tags)


def log_inputs(call: Call) -> Json:
    fields = call.fields
    datasets = [_dataset(item) for item in fields.messages("datasets")]
    models = [m.required_string("model_id") for m in fields.messages("models")]
    call.store.log_inputs(call.workspace, fields.run_id(), datasets, models)
    return {}


def log_outputs(call: Call) -> Json:
    fields = call.fields
    outputs = [
        ModelOutput(m.required_string("model_id"), m.integer("step") or 0)
        for m in fields.messages("models")
    ]
    call.store.log_outputs(call.workspace, fields.run_id(), outputs)
    return {}


def search(call: Call) -> Json:
    fields = call.fields
    args = search_args(fields, DEFAULT_SEARCH_RUNS, MAX_SEARCH_RUNS)
    view = fields.enum("run_view_type", ViewType) or ViewType.ACTIVE_ONLY
    experiment_ids = fields.strings("experiment_ids")
    found = call.store.search_runs(call.workspace, experiment_ids, view, **args)
    return serialize.page("runs", [serialize.run(r) for r in found.items], found)


def metric_history(call: Call) -> Json:
    fields = call.fields
    key = fields.required_string("metric_key")
    max_results = positive_max_results(
        fields.integer("max_results"), MAX_HISTORY_PAGE, MAX_HISTORY_PAGE
    )
    token = fields.string("page_token")
    paging.decode_token(token)  # a bad token is an error even for a run that does not exist
    history = call.store.get_metric_history(call.workspace, fields.run_id(), key)
    found = paging.page(history, max_results, token)
    return serialize.page("metrics", [serialize.metric(m) for m in found.items], found)


def metric_history_bulk_interval(call: Call) -> Json:
    """A metric's history in several runs, each sampled to at most ``max_results`` points
    (metric_sampling.py) for the UI's step charts; MLflow's checks, limits and order."""
    fields = call.fields
    run_ids = fields.strings("run_ids")
    if not run_ids:
        raise missing("run_ids")
    if len(run_ids) > MAX_INTERVAL_RUNS:
        raise invalid(
            f"run_ids has {len(run_ids)} run ids, more than the limit of {MAX_INTERVAL_RUNS}; "
            "ask for fewer runs per request"
        )
    key = fields.required_string("metric_key")
    max_results = positive_max_results(
        fields.integer("max_results"), MAX_INTERVAL_POINTS, MAX_INTERVAL_POINTS
    )
    start_step, end_step = fields.integer("start_step"), fields.integer("end_step")
    if (start_step is None) != (end_step is None):
        raise invalid("start_step and end_step go together: give both, or neither")
    if start_step is not None and end_step is not None and start_step > end_step:
        raise invalid(
            f"end_step must not be less than start_step; got start_step={start_step} and "
            f"end_step={end_step}"
        )
    points: list[Json] = []
    for run_id in run_ids:  # a run named twice is answered twice, as MLflow does
        history = call.store.get_metric_history(call.workspace, run_id, key)
        for m in metric_sampling.sample(history, max_results, start_step, end_step):
            point = {"key": m.key, "value": serialize.number(m.value), "timestamp": m.timestamp}
            points.append({**point, "step": m.step, "run_id": run_id})
    return {"metrics": points} if points else {}
