"""Entities to MLflow's JSON (protobuf's JSON mapping with MLflow's field names)."""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.responses import Response

from mlkube_operator.server.entities import (
    DatasetInput,
    DatasetSummary,
    Experiment,
    FileInfo,
    LoggedModel,
    Metric,
    Run,
    RunInfo,
)
from mlkube_operator.server.search.paging import Page

Json = dict[str, Any]


def number(value: float) -> float | str:
    """Protobuf's JSON writes non-finite doubles as strings; bare NaN is not JSON."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def pairs(mapping: dict[str, str]) -> list[Json]:
    return [{"key": k, "value": v} for k, v in mapping.items()]


def experiment(e: Experiment) -> Json:
    out: Json = {
        "experiment_id": e.experiment_id,
        "name": e.name,
        "artifact_location": e.artifact_location,
        "lifecycle_stage": e.lifecycle_stage.value,
        "last_update_time": e.last_update_time,
        "creation_time": e.creation_time,
    }
    if e.tags:
        out["tags"] = pairs(e.tags)
    return out


def metric(m: Metric) -> Json:
    out: Json = {"key": m.key, "value": number(m.value), "timestamp": m.timestamp, "step": m.step}
    if m.model_id:
        out["model_id"] = m.model_id
    if m.dataset_name:
        out["dataset_name"] = m.dataset_name
    if m.dataset_digest:
        out["dataset_digest"] = m.dataset_digest
    if m.run_id:
        out["run_id"] = m.run_id
    return out


def run_info(i: RunInfo) -> Json:
    out: Json = {
        "run_id": i.run_id,
        "run_uuid": i.run_id,
        "run_name": i.run_name,
        "experiment_id": i.experiment_id,
        "user_id": i.user_id,
        "status": i.status.value,
        "artifact_uri": i.artifact_uri,
        "lifecycle_stage": i.lifecycle_stage.value,
    }
    if i.start_time is not None:
        out["start_time"] = i.start_time
    if i.end_time is not None:
        out["end_time"] = i.end_time
    return out


def dataset_input(d: DatasetInput) -> Json:
    dataset: Json = {
        "name": d.name,
        "digest": d.digest,
        "source_type": d.source_type,
        "source": d.source,
    }
    if d.schema is not None:
        dataset["schema"] = d.schema
    if d.profile is not None:
        dataset["profile"] = d.profile
    return {"tags": pairs(d.tags), "dataset": dataset}


def dataset_summary(s: DatasetSummary) -> Json:
    out: Json = {"experiment_id": s.experiment_id, "name": s.name, "digest": s.digest}
    if s.context is not None:
        out["context"] = s.context
    return out


def run(r: Run) -> Json:
    return {
        "info": run_info(r.info),
        "data": {
            "metrics": [metric(m) for m in r.metrics.values()],
            "params": pairs(r.params),
            "tags": pairs(r.tags),
        },
        "inputs": {
            "dataset_inputs": [dataset_input(d) for d in r.datasets],
            "model_inputs": [{"model_id": m} for m in r.model_inputs],
        },
        "outputs": {
            "model_outputs": [{"model_id": o.model_id, "step": o.step} for o in r.model_outputs]
        },
    }


def logged_model(m: LoggedModel) -> Json:
    info: Json = {
        "model_id": m.model_id,
        "experiment_id": m.experiment_id,
        "name": m.name,
        "creation_timestamp_ms": m.creation_timestamp_ms,
        "last_updated_timestamp_ms": m.last_updated_timestamp_ms,
        "artifact_uri": m.artifact_uri,
        "status": m.status.value,
        "tags": pairs(m.tags),
    }
    for name in ("source_run_id", "model_type", "status_message"):
        value = getattr(m, name)
        if value:
            info[name] = value
    return {
        "info": info,
        "data": {"params": pairs(m.params), "metrics": [metric(x) for x in m.metrics]},
    }


def file_info(f: FileInfo) -> Json:
    out: Json = {"path": f.path, "is_dir": f.is_dir}
    if f.file_size is not None:
        out["file_size"] = f.file_size
    return out


class JsonResponse(Response):
    """Compact JSON; values are already JSON-safe (``number`` handled the non-finite ones)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()


def page(field: str, items: list[Json], found: Page[Any]) -> Json:
    """A search answer: the page's items under ``field``, and the next page's token if any."""
    out: Json = {field: items}
    if found.next_page_token:
        out["next_page_token"] = found.next_page_token
    return out
