"""The logged models of the in-memory tracking store (memory.py)."""

from __future__ import annotations

import dataclasses
import threading
from abc import abstractmethod
from collections.abc import Sequence

from mlkube_operator.server.entities import Experiment, LoggedModel, LoggedModelStatus, Run
from mlkube_operator.server.errors import not_found
from mlkube_operator.server.store.shared.clock import now_ms
from mlkube_operator.server.store.tracking import rules
from mlkube_operator.server.store.tracking.base import TrackingStore


class MemoryLoggedModels(TrackingStore):
    """Logged models by workspace and id, under the store's one lock."""

    _lock: threading.RLock
    _models: dict[str, dict[str, LoggedModel]]

    @abstractmethod
    def _experiment(self, workspace: str, experiment_id: str) -> Experiment: ...

    @abstractmethod
    def _run(self, workspace: str, run_id: str) -> Run: ...

    # -- logged models ------------------------------------------------------------------------

    def _model(self, workspace: str, model_id: str) -> LoggedModel:
        found = self._models[workspace].get(model_id)
        if found is None:
            raise not_found(f"no logged model with id {model_id!r} in workspace {workspace!r}")
        return found

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
        with self._lock:
            experiment = self._experiment(workspace, experiment_id)
            if source_run_id:
                self._run(workspace, source_run_id)
            model = rules.new_logged_model(
                experiment, name, source_run_id, model_type, params, tags, now_ms()
            )
            self._models[workspace][model.model_id] = model
            return model

    def get_logged_model(self, workspace: str, model_id: str) -> LoggedModel:
        with self._lock:
            return self._model(workspace, model_id)

    def _replace_model(self, workspace: str, model: LoggedModel) -> LoggedModel:
        updated = dataclasses.replace(model, last_updated_timestamp_ms=now_ms())
        self._models[workspace][model.model_id] = updated
        return updated

    def finalize_logged_model(
        self, workspace: str, model_id: str, status: LoggedModelStatus
    ) -> LoggedModel:
        with self._lock:
            model = self._model(workspace, model_id)
            return self._replace_model(workspace, dataclasses.replace(model, status=status))

    def set_logged_model_tags(
        self, workspace: str, model_id: str, tags: dict[str, str]
    ) -> LoggedModel:
        with self._lock:
            model = self._model(workspace, model_id)
            return self._replace_model(
                workspace, dataclasses.replace(model, tags={**model.tags, **tags})
            )

    def delete_logged_model_tag(self, workspace: str, model_id: str, key: str) -> None:
        with self._lock:
            model = self._model(workspace, model_id)
            if key not in model.tags:
                raise not_found(f"the logged model {model_id} has no tag {key!r}")
            tags = {k: v for k, v in model.tags.items() if k != key}
            self._replace_model(workspace, dataclasses.replace(model, tags=tags))

    def log_logged_model_params(
        self, workspace: str, model_id: str, params: dict[str, str]
    ) -> None:
        with self._lock:
            model = self._model(workspace, model_id)
            added = rules.merged_params(model.params, params)
            self._replace_model(
                workspace, dataclasses.replace(model, params={**model.params, **added})
            )

    def delete_logged_model(self, workspace: str, model_id: str) -> None:
        with self._lock:
            self._model(workspace, model_id)
            del self._models[workspace][model_id]

    def list_logged_models(
        self, workspace: str, experiment_ids: Sequence[str]
    ) -> list[LoggedModel]:
        wanted = set(experiment_ids)
        with self._lock:
            return [m for m in self._models[workspace].values() if m.experiment_id in wanted]
