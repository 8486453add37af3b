"""traces/metrics and traces/search (MLflow 3's tracing API, under /3.0) on a server that keeps
no traces.

mlkube records no traces, yet the page MLflow's UI opens for an experiment (its Overview) asks
for trace metrics, and the Traces tab searches traces; both retry a failed request. So these
check the request as MLflow's handlers do (mlflow/server/handlers.py: _query_trace_metrics,
_search_traces_v3) and answer what MLflow's server answers for experiments without traces.
Which metric names, aggregations and dimensions go together is MLflow's catalog of trace data,
not checked here: no combination finds anything.
"""

from __future__ import annotations

from mlkube_operator.server.errors import invalid
from mlkube_operator.server.http.call import Call, experiment_ids
from mlkube_operator.server.http.fields import Fields, missing
from mlkube_operator.server.http.serialize import Json

VIEW_TYPES = ("TRACES", "SPANS", "ASSESSMENTS")
AGGREGATIONS = ("COUNT", "SUM", "AVG", "PERCENTILE", "MIN", "MAX")
# Experiments one request may name (MLflow has no limit; the JSON body limit bounds it anyway).
MAX_EXPERIMENTS = 1000
MAX_TRACES_PAGE = 500  # MLflow's limit on traces/search's max_results


def _aggregations(fields: Fields) -> list[str]:
    items = fields.messages("aggregations")
    if not items:
        raise missing("aggregations")
    names = []
    for item in items:
        name = item.string("aggregation_type", required=True)
        if name not in AGGREGATIONS:
            raise invalid(
                f"parameter '{item.where}aggregation_type' must be one of {list(AGGREGATIONS)}, "
                f"got {name!r:.80}"
            )
        names.append(name)
    return names


def metrics(call: Call) -> Json:
    """An empty answer, except where MLflow's SQL aggregates over no rows still make one row: a
    COUNT with neither dimensions nor time buckets counts 0 (the other aggregations of that row
    are null, and MLflow leaves null values out)."""
    fields = call.fields
    experiment_ids(fields, MAX_EXPERIMENTS)
    view_type = fields.string("view_type", required=True)
    if view_type not in VIEW_TYPES:
        raise invalid(
            f"parameter 'view_type' must be one of {list(VIEW_TYPES)}, got {view_type!r:.80}"
        )
    metric_name = fields.required_string("metric_name")
    aggregations = _aggregations(fields)
    dimensions = fields.strings("dimensions")
    interval = fields.integer("time_interval_seconds")
    start, end = fields.integer("start_time_ms"), fields.integer("end_time_ms")
    if interval and (start is None or end is None):
        raise invalid("start_time_ms and end_time_ms are required if time_interval_seconds is set")
    if "COUNT" in aggregations and not dimensions and not interval:
        return {"data_points": [{"metric_name": metric_name, "values": {"COUNT": 0.0}}]}
    return {}


def search(call: Call) -> Json:
    """No traces, in any of the named experiments (``locations``)."""
    fields = call.fields
    locations = fields.messages("locations")
    if not locations:
        raise missing("locations")
    if len(locations) > MAX_EXPERIMENTS:
        raise invalid(f"parameter 'locations' may name at most {MAX_EXPERIMENTS} experiments")
    max_results = fields.integer("max_results")
    if max_results is not None and max_results > MAX_TRACES_PAGE:
        raise invalid(
            f"parameter 'max_results' may be at most {MAX_TRACES_PAGE}, got {max_results}"
        )
    return {}
