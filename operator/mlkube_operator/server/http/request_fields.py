"""The fields each endpoint reads, as JSON Schema: the request half of the OpenAPI document
(openapi.py). The handlers read their fields with ``Fields`` (fields.py), by name and type,
as MLflow's service.proto and model_registry.proto name them; this table says the same for
clients and fuzzers. Types follow protobuf's JSON mapping as the handlers accept it: int64 as
a JSON integer, double as a number, repeated fields as arrays (a GET repeats the parameter).

Each entry is keyed by the path under /2.0/mlflow; the GET and POST forms of one path read the
same fields. tests/unit/server/test_openapi.py keeps the table and the route tables in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mlkube_operator.server.entities import LoggedModelStatus, RunStatus, ViewType

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INT64: Schema = {"type": "integer", "format": "int64"}
DOUBLE: Schema = {"type": "number", "format": "double"}
BOOLEAN: Schema = {"type": "boolean"}
STRINGS: Schema = {"type": "array", "items": STRING}
# A model version number: a string in MLflow's proto (clients send "3"), read as an integer.
VERSION: Schema = {"type": "string", "pattern": "^[0-9]{1,18}$"}


def enum(kind: type[StrEnum]) -> Schema:
    return {"type": "string", "enum": [member.value for member in kind]}


def message(fields: dict[str, Schema], *required: str) -> Schema:
    schema: Schema = {"type": "object", "properties": fields}
    if required:
        schema["required"] = list(required)
    return schema


def repeated(item: Schema) -> Schema:
    return {"type": "array", "items": item}


KEY_VALUES = repeated(message({"key": STRING, "value": STRING}, "key", "value"))
METRIC_FIELDS: dict[str, Schema] = {
    "key": STRING,
    "value": DOUBLE,
    "timestamp": INT64,
    "step": INT64,
    "model_id": STRING,
    "dataset_name": STRING,
    "dataset_digest": STRING,
}
METRIC = message(METRIC_FIELDS, "key", "value", "timestamp")
DATASET_INPUT = message(
    {
        "dataset": message(
            {
                "name": STRING,
                "digest": STRING,
                "source_type": STRING,
                "source": STRING,
                "schema": STRING,
                "profile": STRING,
            },
            "name",
            "digest",
            "source_type",
            "source",
        ),
        "tags": KEY_VALUES,
    },
    "dataset",
)
PAGE: dict[str, Schema] = {"max_results": INT64, "page_token": STRING}
SEARCH: dict[str, Schema] = {**PAGE, "filter": STRING, "order_by": STRINGS}


@dataclass(frozen=True)
class Request:
    """The fields of one endpoint's request, and which of them it cannot do without."""

    fields: dict[str, Schema] = field(default_factory=dict)
    required: tuple[str, ...] = ()


def request(fields: dict[str, Schema], *required: str) -> Request:
    return Request(fields, required)


EXPERIMENT = {"experiment_id": STRING}
RUN = {"run_id": STRING}
MODEL = {"name": STRING}
VERSION_OF = {"name": STRING, "version": VERSION}
KEY = {"key": STRING}
KEY_VALUE = {"key": STRING, "value": STRING}

TRACKING: dict[str, Request] = {
    "/experiments/create": request(
        {"name": STRING, "artifact_location": STRING, "tags": KEY_VALUES}, "name"
    ),
    "/experiments/get": request(EXPERIMENT, "experiment_id"),
    "/experiments/get-by-name": request({"experiment_name": STRING}, "experiment_name"),
    "/experiments/search": request({**SEARCH, "view_type": enum(ViewType)}),
    "/experiments/update": request({**EXPERIMENT, "new_name": STRING}, "experiment_id"),
    "/experiments/delete": request(EXPERIMENT, "experiment_id"),
    "/experiments/restore": request(EXPERIMENT, "experiment_id"),
    "/experiments/set-experiment-tag": request(
        {**EXPERIMENT, **KEY_VALUE}, "experiment_id", "key", "value"
    ),
    "/experiments/delete-experiment-tag": request({**EXPERIMENT, **KEY}, "experiment_id", "key"),
    "/runs/create": request(
        {
            "experiment_id": STRING,
            "user_id": STRING,
            "run_name": STRING,
            "start_time": INT64,
            "tags": KEY_VALUES,
        }
    ),
    "/runs/get": request(RUN, "run_id"),
    "/runs/update": request(
        {**RUN, "status": enum(RunStatus), "end_time": INT64, "run_name": STRING}, "run_id"
    ),
    "/runs/delete": request(RUN, "run_id"),
    "/runs/restore": request(RUN, "run_id"),
    "/runs/log-metric": request({**RUN, **METRIC_FIELDS}, "run_id", "key", "value", "timestamp"),
    "/runs/log-parameter": request({**RUN, **KEY_VALUE}, "run_id", "key", "value"),
    "/runs/log-batch": request(
        {**RUN, "metrics": repeated(METRIC), "params": KEY_VALUES, "tags": KEY_VALUES}, "run_id"
    ),
    "/runs/set-tag": request({**RUN, **KEY_VALUE}, "run_id", "key", "value"),
    "/runs/delete-tag": request({**RUN, **KEY}, "run_id", "key"),
    "/runs/log-inputs": request(
        {
            **RUN,
            "datasets": repeated(DATASET_INPUT),
            "models": repeated(message({"model_id": STRING}, "model_id")),
        },
        "run_id",
    ),
    "/runs/outputs": request(
        {**RUN, "models": repeated(message({"model_id": STRING, "step": INT64}, "model_id"))},
        "run_id",
    ),
    "/runs/search": request({**SEARCH, "experiment_ids": STRINGS, "run_view_type": enum(ViewType)}),
    "/metrics/get-history": request({**RUN, **PAGE, "metric_key": STRING}, "run_id", "metric_key"),
    "/metrics/get-history-bulk-interval": request(
        {
            "run_ids": STRINGS,
            "metric_key": STRING,
            "max_results": INT64,
            "start_step": INT64,
            "end_step": INT64,
        },
        "run_ids",
        "metric_key",
    ),
    "/artifacts/list": request({**RUN, "path": STRING, "page_token": STRING}, "run_id"),
    "/logged-models": request(
        {
            **EXPERIMENT,
            "name": STRING,
            "source_run_id": STRING,
            "model_type": STRING,
            "params": KEY_VALUES,
            "tags": KEY_VALUES,
        },
        "experiment_id",
    ),
    "/logged-models/search": request(
        {
            **PAGE,
            "experiment_ids": STRINGS,
            "filter": STRING,
            "order_by": repeated(
                message(
                    {
                        "field_name": STRING,
                        "ascending": BOOLEAN,
                        "dataset_name": STRING,
                        "dataset_digest": STRING,
                    },
                    "field_name",
                )
            ),
        }
    ),
    "/logged-models/{model_id}": request({"status": enum(LoggedModelStatus)}),
    "/logged-models/{model_id}/tags": request({"tags": KEY_VALUES}),
    "/logged-models/{model_id}/tags/{tag_key}": request({}),
    "/logged-models/{model_id}/params": request({"params": KEY_VALUES}),
    "/logged-models/{model_id}/artifacts/directories": request({"artifact_directory_path": STRING}),
}

REGISTRY: dict[str, Request] = {
    "/registered-models/create": request(
        {**MODEL, "description": STRING, "tags": KEY_VALUES}, "name"
    ),
    "/registered-models/get": request(MODEL, "name"),
    "/registered-models/search": request(SEARCH),
    "/registered-models/rename": request({**MODEL, "new_name": STRING}, "name", "new_name"),
    "/registered-models/update": request({**MODEL, "description": STRING}, "name"),
    "/registered-models/delete": request(MODEL, "name"),
    "/registered-models/get-latest-versions": request({**MODEL, "stages": STRINGS}, "name"),
    "/registered-models/set-tag": request({**MODEL, **KEY_VALUE}, "name", "key", "value"),
    "/registered-models/delete-tag": request({**MODEL, **KEY}, "name", "key"),
    "/registered-models/alias": request(
        {**MODEL, "alias": STRING, "version": VERSION}, "name", "alias"
    ),
    "/model-versions/create": request(
        {
            **MODEL,
            "source": STRING,
            "run_id": STRING,
            "model_id": STRING,
            "run_link": STRING,
            "description": STRING,
            "tags": KEY_VALUES,
        },
        "name",
        "source",
    ),
    "/model-versions/get": request(VERSION_OF, "name", "version"),
    "/model-versions/search": request(SEARCH),
    "/model-versions/update": request({**VERSION_OF, "description": STRING}, "name", "version"),
    "/model-versions/delete": request(VERSION_OF, "name", "version"),
    "/model-versions/transition-stage": request(
        {**VERSION_OF, "stage": STRING, "archive_existing_versions": BOOLEAN},
        "name",
        "version",
        "stage",
    ),
    "/model-versions/get-download-uri": request(VERSION_OF, "name", "version"),
    "/model-versions/set-tag": request(
        {**VERSION_OF, **KEY_VALUE}, "name", "version", "key", "value"
    ),
    "/model-versions/delete-tag": request({**VERSION_OF, **KEY}, "name", "version", "key"),
}
