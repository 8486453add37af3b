"""What a run keeps in object storage beside its Run object: the extra document.

Params, tags and latest metric values that do not fit in the Run's status (see drafts.py), and
dataset inputs, whose schemas and profiles can be large. Each version of the document is written
under a new name and the status points at it, so a reader never sees half of an update.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from mlkube.api.run import MetricValue
from mlkube_operator.server.entities import DatasetInput, Metric
from mlkube_operator.server.store.tracking.kube.values import metric_of, metric_value


@dataclass(frozen=True)
class Extra:
    """A run's values kept in object storage (``RunStatus.extra``), as loaded."""

    object: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    datasets: tuple[DatasetInput, ...] = ()
    metrics: dict[str, Metric] = field(default_factory=dict)


def extra_json(extra: Extra) -> bytes:
    body = {
        "params": extra.params,
        "tags": extra.tags,
        "metrics": {k: metric_value(m) for k, m in extra.metrics.items()},
        "datasets": [dataclasses.asdict(d) for d in extra.datasets],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def extra_from_json(name: str, data: bytes) -> Extra:
    body = json.loads(data)
    metrics = {
        key: metric_of(key, MetricValue.model_validate(value))
        for key, value in body.get("metrics", {}).items()
    }
    return Extra(
        name,
        dict(body.get("params", {})),
        dict(body.get("tags", {})),
        tuple(DatasetInput(**d) for d in body.get("datasets", [])),
        metrics,
    )
