"""Encodings of status values: millisecond times as RFC 3339, metric values JSON can hold."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from mlkube.api.run import MetricValue, NonFinite
from mlkube_operator.server.entities import Metric


def to_ms(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def from_ms(ms: int) -> str:
    """An RFC 3339 time with millisecond precision, as the status fields hold it."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def metric_value(metric: Metric) -> dict[str, Any]:
    if math.isnan(metric.value):
        return {"value": 0.0, "nonFinite": NonFinite.NAN.value, **_when(metric)}
    if math.isinf(metric.value):
        kind = NonFinite.INFINITY if metric.value > 0 else NonFinite.NEGATIVE_INFINITY
        return {"value": 0.0, "nonFinite": kind.value, **_when(metric)}
    return {"value": metric.value, **_when(metric)}


def _when(metric: Metric) -> dict[str, int]:
    return {"timestamp": metric.timestamp, "step": metric.step}


def metric_of(key: str, stored: MetricValue) -> Metric:
    value = stored.value
    if stored.non_finite is not None:
        value = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[stored.non_finite]
    return Metric(key=key, value=value, timestamp=stored.timestamp, step=stored.step)
