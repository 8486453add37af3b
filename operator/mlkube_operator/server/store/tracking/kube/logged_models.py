"""The logged models (MLflow 3) of the Kubernetes tracking store: JSON documents in object
storage (models.py), checked against the experiments and runs they belong to."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from mlkube_operator.server.entities import LoggedModel, LoggedModelStatus, Metric
from mlkube_operator.server.errors import not_found
from mlkube_operator.server.store.shared.clock import now_ms
from mlkube_operator.server.store.tracking import rules
from mlkube_operator.server.store.tracking.kube.parts import KubeParts


class KubeLoggedModels(KubeParts):
    def create_logged_model(
        self,
        workspace: str,
        experiment_id: str,
        *,
        name: str | None,
        source_run_id: str | None,
        model_type: str | None,
        params: dict[str, str],
        tags: dict[str, str],
    ) -> LoggedModel:
        experiment = self.get_experiment(workspace, experiment_id)
        if source_run_id:
            self.get_run(workspace, source_run_id)
        model = rules.new_logged_model(
            experiment, name, source_run_id, model_type, params, tags, now_ms()
        )
        return self.models.put(workspace, model)

    def get_logged_model(self, workspace: str, model_id: str) -> LoggedModel:
        return self.models.get(workspace, model_id)

    def finalize_logged_model(
        self, workspace: str, model_id: str, status: LoggedModelStatus
    ) -> LoggedModel:
        return self.models.update(workspace, model_id, lambda m: _touched(m, status=status))

    def set_logged_model_tags(
        self, workspace: str, model_id: str, tags: dict[str, str]
    ) -> LoggedModel:
        return self.models.update(
            workspace, model_id, lambda m: _touched(m, tags={**m.tags, **tags})
        )

    def delete_logged_model_tag(self, workspace: str, model_id: str, key: str) -> None:
        def change(model: LoggedModel) -> LoggedModel:
            if key not in model.tags:
                raise not_found(f"the logged model {model_id} has no tag {key!r}")
            return _touched(model, tags={k: v for k, v in model.tags.items() if k != key})

        self.models.update(workspace, model_id, change)

    def log_logged_model_params(
        self, workspace: str, model_id: str, params: dict[str, str]
    ) -> None:
        def change(model: LoggedModel) -> LoggedModel:
            added = rules.merged_params(model.params, params)
            return _touched(model, params={**model.params, **added})

        self.models.update(workspace, model_id, change)

    def delete_logged_model(self, workspace: str, model_id: str) -> None:
        self.models.delete(workspace, model_id)

    def list_logged_models(
        self, workspace: str, experiment_ids: Sequence[str]
    ) -> list[LoggedModel]:
        return self.models.of_experiments(workspace, set(experiment_ids))


def _touched(model: LoggedModel, **changes: Any) -> LoggedModel:
    return dataclasses.replace(model, last_updated_timestamp_ms=now_ms(), **changes)


def metrics_adder(points: list[Metric], run_id: str) -> Callable[[LoggedModel], LoggedModel]:
    """Records a run's metrics on the logged model they were logged for (MLflow 3)."""
    tagged = [dataclasses.replace(p, run_id=run_id) for p in points]

    def add(model: LoggedModel) -> LoggedModel:
        kept = [m for m in model.metrics if m not in tagged]
        return _touched(model, metrics=(*kept, *tagged))

    return add
