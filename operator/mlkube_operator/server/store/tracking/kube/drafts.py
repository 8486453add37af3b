"""A run's pending state while a group of writes is applied to it (see lanes.py).

Each write checks everything it needs before it changes the draft, so a rejected write leaves
no trace. The draft records the status merge patch (only the fields these writes touch), the new
metric points, and whether the extra document (params and tags that do not fit in the object,
dataset inputs) must be rewritten.

Params, tags and latest metric values stay in the Run's status while they fit a budget well under
the API server's object size limit; the rest go to the extra document in object storage. Nothing
logged within MLflow's limits is dropped, however many params, tags or metric keys a run has.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from mlkube import layout
from mlkube.api.experiment import LifecycleStage as Stage
from mlkube_operator.server.entities import DatasetInput, LifecycleStage, Metric, ModelOutput
from mlkube_operator.server.errors import ErrorCode, MlflowError, not_found
from mlkube_operator.server.store.tracking import rules
from mlkube_operator.server.store.tracking.kube.cache import RunRecord
from mlkube_operator.server.store.tracking.kube.extra import Extra, extra_json
from mlkube_operator.server.store.tracking.kube.values import metric_value

# Bytes of params, tags and latest metrics kept in the Run object; etcd's default request limit
# is 1.5 MiB, and metadata, spec, conditions and JSON overhead need room too.
STATUS_BUDGET = 768 * 1024
# What one latest-metric entry costs besides its key: value, timestamp, step and JSON syntax.
METRIC_ENTRY = 72


def _size(key: str, value: str) -> int:
    return len(key.encode()) + len(value.encode()) + 8


def _metric_size(key: str) -> int:
    return len(key.encode()) + METRIC_ENTRY


class RunDraft:
    def __init__(self, record: RunRecord) -> None:
        status = record.resource.status
        self.version = record.version
        self.entity = record.entity
        # The operator writes the phase and times of a project Run (run controller) and of a
        # Sweep's parent run (sweep controller); the server keeps to params, metrics and tags.
        self.operated = record.resource.spec.project is not None or (
            layout.SWEEP_PARENT_LABEL in record.resource.metadata.labels
        )
        self.params = dict(status.params)
        self.extra_params = dict(record.extra.params)
        self.tags = dict(status.tags)
        self.extra_tags = dict(record.extra.tags)
        self.datasets = list(record.extra.datasets)
        self.extra_object = record.extra.object
        self.metrics = dict(record.entity.metrics) if record.entity else {}
        self.status_metrics = set(status.metrics)
        self.extra_metrics = dict(record.extra.metrics)
        self.model_inputs = list(status.model_inputs)
        self.model_outputs = [ModelOutput(o.model_id, o.step) for o in status.model_outputs]
        self.stage = LifecycleStage(status.lifecycle_stage)
        self.used = sum(_size(k, v) for k, v in (*self.params.items(), *self.tags.items()))
        self.used += sum(_metric_size(k) for k in self.status_metrics)
        self.patch: dict[str, Any] = {}
        self.history: list[Metric] = []
        self.extra_dirty = False

    @property
    def dirty(self) -> bool:
        return bool(self.patch) or self.extra_dirty or bool(self.history)

    def _section(self, name: str) -> dict[str, Any]:
        section: dict[str, Any] = self.patch.setdefault(name, {})
        return section

    # -- checks ------------------------------------------------------------------------------

    def require_active(self) -> None:
        if self.entity is None:
            raise not_found("the run is not started yet")
        if self.stage is not LifecycleStage.ACTIVE:
            raise MlflowError(
                ErrorCode.INVALID_STATE,
                f"the run {self.entity.info.run_id} is deleted; restore it before changing it",
            )

    def all_params(self) -> dict[str, str]:
        return {**self.params, **self.extra_params}

    def all_tags(self) -> dict[str, str]:
        return {**self.tags, **self.extra_tags}

    # -- changes -----------------------------------------------------------------------------

    def put_params(self, added: dict[str, str]) -> None:
        """Add params already checked against ``all_params`` (rules.merged_params)."""
        for key, value in added.items():
            size = _size(key, value)
            if self.used + size <= STATUS_BUDGET and not self.extra_params:
                self.params[key] = value
                self._section("params")[key] = value
                self.used += size
            else:
                self.extra_params[key] = value
                self.extra_dirty = True

    def set_tags(self, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            if key in self.extra_tags:
                self.extra_tags[key] = value
                self.extra_dirty = True
                continue
            old = self.tags.get(key)
            delta = _size(key, value) - (_size(key, old) if old is not None else 0)
            if self.used + delta <= STATUS_BUDGET:
                self.tags[key] = value
                self._section("tags")[key] = value
                self.used += delta
            else:
                if old is not None:
                    del self.tags[key]
                    self._section("tags")[key] = None
                    self.used -= _size(key, old)
                self.extra_tags[key] = value
                self.extra_dirty = True

    def delete_tag(self, key: str) -> None:
        if key in self.extra_tags:
            del self.extra_tags[key]
            self.extra_dirty = True
        elif key in self.tags:
            self.used -= _size(key, self.tags.pop(key))
            self._section("tags")[key] = None
        else:
            run_id = self.entity.info.run_id if self.entity else "?"
            raise not_found(f"the run {run_id} has no tag {key!r}")

    def add_metrics(self, metrics: Sequence[Metric]) -> None:
        changed = rules.latest_metrics(self.metrics, metrics)
        self.metrics.update(changed)
        for key, metric in changed.items():
            if key in self.extra_metrics:
                self.extra_metrics[key] = metric
                self.extra_dirty = True
            elif key in self.status_metrics or self.used + _metric_size(key) <= STATUS_BUDGET:
                if key not in self.status_metrics:
                    self.status_metrics.add(key)
                    self.used += _metric_size(key)
                self._section("metrics")[key] = metric_value(metric)
            else:
                self.extra_metrics[key] = metric
                self.extra_dirty = True
        self.history.extend(metrics)

    def set_fields(self, fields: dict[str, Any]) -> None:
        """Lifecycle fields of the status (phase, times, ...), written as given."""
        self.patch.update(fields)

    def set_stage(self, stage: LifecycleStage) -> None:
        if self.stage is not stage:
            self.stage = stage
            self.patch["lifecycleStage"] = Stage(stage.value).value

    def add_inputs(self, datasets: Sequence[DatasetInput], model_ids: Sequence[str]) -> None:
        added = rules.added_datasets(self.datasets, datasets)
        if added:
            self.datasets.extend(added)
            self.extra_dirty = True
        models = [m for m in dict.fromkeys(model_ids) if m not in self.model_inputs]
        if models:
            self.model_inputs.extend(models)
            self.patch["modelInputs"] = list(self.model_inputs)

    def add_outputs(self, outputs: Sequence[ModelOutput]) -> None:
        added = rules.added_outputs(self.model_outputs, outputs)
        if added:
            self.model_outputs.extend(added)
            self.patch["modelOutputs"] = [
                {"modelId": o.model_id, "step": o.step} for o in self.model_outputs
            ]

    # -- the extra document ------------------------------------------------------------------

    def new_extra(self) -> tuple[Extra, bytes]:
        """The extra document to write (under a new name) and its content; also records the
        status field that points at it."""
        name = f"extra-{secrets.token_hex(8)}.json"
        extra = Extra(
            name,
            dict(self.extra_params),
            dict(self.extra_tags),
            tuple(self.datasets),
            dict(self.extra_metrics),
        )
        self.patch["extra"] = {
            "object": name,
            "params": len(extra.params),
            "tags": len(extra.tags),
            "metrics": len(extra.metrics),
            "datasets": len(extra.datasets),
        }
        return extra, extra_json(extra)
