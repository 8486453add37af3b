"""An in-memory TrackingStore: the reference implementation for fast tests, nothing durable."""

from __future__ import annotations

import dataclasses
import threading
from collections import defaultdict
from collections.abc import Sequence

from mlkube import layout
from mlkube_operator.server.entities import (
    DatasetInput,
    Experiment,
    LifecycleStage,
    LoggedModel,
    Metric,
    ModelOutput,
    Run,
    RunInfo,
    RunStatus,
    ViewType,
)
from mlkube_operator.server.errors import already_exists, invalid, not_found
from mlkube_operator.server.store.shared.clock import now_ms
from mlkube_operator.server.store.tracking import rules
from mlkube_operator.server.store.tracking.base import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
)
from mlkube_operator.server.store.tracking.memory_models import MemoryLoggedModels


class InMemoryStore(MemoryLoggedModels):
    """Everything in dicts behind one lock; experiment ids from one counter for all workspaces."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._next_id = 1
        self._experiments: dict[str, dict[str, Experiment]] = defaultdict(dict)
        self._runs: dict[str, dict[str, Run]] = defaultdict(dict)
        self._history: dict[tuple[str, str], list[Metric]] = defaultdict(list)
        self._models: dict[str, dict[str, LoggedModel]] = defaultdict(dict)

    # -- experiments -------------------------------------------------------------------------

    def _ensure_default(self, workspace: str) -> None:
        experiments = self._experiments[workspace]
        if DEFAULT_EXPERIMENT_ID not in experiments:
            created = now_ms()
            experiments[DEFAULT_EXPERIMENT_ID] = Experiment(
                experiment_id=DEFAULT_EXPERIMENT_ID,
                name=DEFAULT_EXPERIMENT_NAME,
                artifact_location=layout.experiment_artifact_location(DEFAULT_EXPERIMENT_ID),
                lifecycle_stage=LifecycleStage.ACTIVE,
                creation_time=created,
                last_update_time=created,
            )

    def _experiment(self, workspace: str, experiment_id: str) -> Experiment:
        self._ensure_default(workspace)
        found = self._experiments[workspace].get(experiment_id)
        if found is None:
            raise not_found(f"no experiment with id {experiment_id!r} in workspace {workspace!r}")
        return found

    def _put_experiment(self, workspace: str, experiment: Experiment) -> None:
        self._experiments[workspace][experiment.experiment_id] = experiment

    def create_experiment(
        self, workspace: str, name: str, artifact_location: str | None, tags: dict[str, str]
    ) -> str:
        with self._lock:
            self._ensure_default(workspace)
            if any(e.name == name for e in self._experiments[workspace].values()):
                raise already_exists(f"an experiment named {name!r} already exists")
            experiment_id = str(self._next_id)
            self._next_id += 1
            created = now_ms()
            self._put_experiment(
                workspace,
                Experiment(
                    experiment_id=experiment_id,
                    name=name,
                    artifact_location=layout.experiment_artifact_location(
                        experiment_id, artifact_location
                    ),
                    lifecycle_stage=LifecycleStage.ACTIVE,
                    creation_time=created,
                    last_update_time=created,
                    tags=dict(tags),
                ),
            )
            return experiment_id

    def get_experiment(self, workspace: str, experiment_id: str) -> Experiment:
        with self._lock:
            return self._experiment(workspace, experiment_id)

    def get_experiment_by_name(self, workspace: str, name: str) -> Experiment:
        with self._lock:
            self._ensure_default(workspace)
            for experiment in self._experiments[workspace].values():
                if experiment.name == name:
                    return experiment
            raise not_found(f"no experiment named {name!r} in workspace {workspace!r}")

    def list_experiments(self, workspace: str, view_type: ViewType) -> list[Experiment]:
        with self._lock:
            self._ensure_default(workspace)
            return [
                e
                for e in self._experiments[workspace].values()
                if view_type.admits(e.lifecycle_stage)
            ]

    def rename_experiment(self, workspace: str, experiment_id: str, new_name: str) -> None:
        with self._lock:
            experiment = self._experiment(workspace, experiment_id)
            rules.require_active_experiment(experiment, "renaming it")
            if any(
                e.name == new_name and e.experiment_id != experiment_id
                for e in self._experiments[workspace].values()
            ):
                raise already_exists(f"an experiment named {new_name!r} already exists")
            self._put_experiment(
                workspace,
                dataclasses.replace(experiment, name=new_name, last_update_time=now_ms()),
            )

    def _set_experiment_stage(
        self, workspace: str, experiment_id: str, stage: LifecycleStage
    ) -> None:
        experiment = self._experiment(workspace, experiment_id)
        if experiment.lifecycle_stage is stage:
            raise not_found(f"the experiment {experiment_id} is already {stage.value}")
        self._put_experiment(
            workspace,
            dataclasses.replace(experiment, lifecycle_stage=stage, last_update_time=now_ms()),
        )
        for run in list(self._runs[workspace].values()):
            if run.info.experiment_id == experiment_id:
                self._set_run_stage(workspace, run.info.run_id, stage)

    def delete_experiment(self, workspace: str, experiment_id: str) -> None:
        with self._lock:
            if experiment_id == DEFAULT_EXPERIMENT_ID:
                raise invalid("the Default experiment (id 0) cannot be deleted")
            self._set_experiment_stage(workspace, experiment_id, LifecycleStage.DELETED)

    def restore_experiment(self, workspace: str, experiment_id: str) -> None:
        with self._lock:
            self._set_experiment_stage(workspace, experiment_id, LifecycleStage.ACTIVE)

    def set_experiment_tag(self, workspace: str, experiment_id: str, key: str, value: str) -> None:
        with self._lock:
            experiment = self._experiment(workspace, experiment_id)
            rules.require_active_experiment(experiment, "tagging it")
            self._put_experiment(
                workspace, dataclasses.replace(experiment, tags={**experiment.tags, key: value})
            )

    def delete_experiment_tag(self, workspace: str, experiment_id: str, key: str) -> None:
        with self._lock:
            experiment = self._experiment(workspace, experiment_id)
            rules.require_active_experiment(experiment, "changing its tags")
            if key not in experiment.tags:
                raise not_found(f"the experiment {experiment_id} has no tag {key!r}")
            tags = {k: v for k, v in experiment.tags.items() if k != key}
            self._put_experiment(workspace, dataclasses.replace(experiment, tags=tags))

    # -- runs --------------------------------------------------------------------------------

    def _run(self, workspace: str, run_id: str) -> Run:
        found = self._runs[workspace].get(run_id)
        if found is None:
            raise not_found(f"no run with id {run_id!r} in workspace {workspace!r}")
        return found

    def _put_run(self, workspace: str, run: Run) -> None:
        self._runs[workspace][run.info.run_id] = run

    def create_run(
        self,
        workspace: str,
        experiment_id: str,
        *,
        user_id: str,
        run_name: str | None,
        start_time: int | None,
        tags: dict[str, str],
    ) -> Run:
        with self._lock:
            experiment = self._experiment(workspace, experiment_id)
            rules.require_active_experiment(experiment, "creating runs in it")
            name, all_tags = rules.run_name_and_tags(run_name, tags)
            run_id = rules.new_run_id()
            run = Run(
                info=RunInfo(
                    run_id=run_id,
                    experiment_id=experiment_id,
                    run_name=name,
                    user_id=user_id,
                    status=RunStatus.RUNNING,
                    start_time=start_time if start_time is not None else now_ms(),
                    end_time=None,
                    artifact_uri=rules.run_artifact_uri(experiment, run_id),
                    lifecycle_stage=LifecycleStage.ACTIVE,
                ),
                tags=all_tags,
            )
            self._put_run(workspace, run)
            return run

    def get_run(self, workspace: str, run_id: str) -> Run:
        with self._lock:
            return self._run(workspace, run_id)

    def update_run(
        self,
        workspace: str,
        run_id: str,
        status: RunStatus | None,
        end_time: int | None,
        run_name: str | None,
    ) -> RunInfo:
        with self._lock:
            run = self._run(workspace, run_id)
            rules.require_active_run(run)
            info = dataclasses.replace(
                run.info,
                status=status or run.info.status,
                end_time=end_time if end_time is not None else run.info.end_time,
                run_name=run_name or run.info.run_name,
            )
            tags = {**run.tags, rules.RUN_NAME_TAG: run_name} if run_name else run.tags
            self._put_run(workspace, dataclasses.replace(run, info=info, tags=tags))
            return info

    def _set_run_stage(self, workspace: str, run_id: str, stage: LifecycleStage) -> None:
        run = self._run(workspace, run_id)
        info = dataclasses.replace(run.info, lifecycle_stage=stage)
        self._put_run(workspace, dataclasses.replace(run, info=info))

    def delete_run(self, workspace: str, run_id: str) -> None:
        with self._lock:
            self._set_run_stage(workspace, run_id, LifecycleStage.DELETED)

    def restore_run(self, workspace: str, run_id: str) -> None:
        with self._lock:
            self._set_run_stage(workspace, run_id, LifecycleStage.ACTIVE)

    def log_batch(
        self,
        workspace: str,
        run_id: str,
        metrics: Sequence[Metric],
        params: dict[str, str],
        tags: dict[str, str],
    ) -> None:
        with self._lock:
            run = self._run(workspace, run_id)
            rules.require_active_run(run)
            new_params = rules.merged_params(run.params, params)
            for metric in metrics:
                if metric.model_id:
                    self._model(workspace, metric.model_id)
            latest = rules.latest_metrics(run.metrics, metrics)
            for metric in metrics:
                self._history[(run_id, metric.key)].append(metric)
                if metric.model_id:
                    model = self._model(workspace, metric.model_id)
                    kept = [m for m in model.metrics if m != metric]
                    self._models[workspace][model.model_id] = dataclasses.replace(
                        model, metrics=(*kept, dataclasses.replace(metric, run_id=run_id))
                    )
            info = run.info
            if rules.RUN_NAME_TAG in tags:
                info = dataclasses.replace(info, run_name=tags[rules.RUN_NAME_TAG])
            self._put_run(
                workspace,
                dataclasses.replace(
                    run,
                    info=info,
                    metrics={**run.metrics, **latest},
                    params={**run.params, **new_params},
                    tags={**run.tags, **tags},
                ),
            )

    def delete_tag(self, workspace: str, run_id: str, key: str) -> None:
        with self._lock:
            run = self._run(workspace, run_id)
            rules.require_active_run(run)
            if key not in run.tags:
                raise not_found(f"the run {run_id} has no tag {key!r}")
            tags = {k: v for k, v in run.tags.items() if k != key}
            self._put_run(workspace, dataclasses.replace(run, tags=tags))

    def log_inputs(
        self,
        workspace: str,
        run_id: str,
        datasets: Sequence[DatasetInput],
        model_ids: Sequence[str],
    ) -> None:
        with self._lock:
            run = self._run(workspace, run_id)
            rules.require_active_run(run)
            added = rules.added_datasets(run.datasets, datasets)
            models = tuple(dict.fromkeys((*run.model_inputs, *model_ids)))
            self._put_run(
                workspace,
                dataclasses.replace(run, datasets=(*run.datasets, *added), model_inputs=models),
            )

    def log_outputs(self, workspace: str, run_id: str, outputs: Sequence[ModelOutput]) -> None:
        with self._lock:
            run = self._run(workspace, run_id)
            rules.require_active_run(run)
            added = rules.added_outputs(run.model_outputs, outputs)
            self._put_run(
                workspace, dataclasses.replace(run, model_outputs=(*run.model_outputs, *added))
            )

    def list_runs(
        self, workspace: str, experiment_ids: Sequence[str], view_type: ViewType
    ) -> list[Run]:
        wanted = set(experiment_ids)
        with self._lock:
            return [
                r
                for r in self._runs[workspace].values()
                if r.info.experiment_id in wanted and view_type.admits(r.info.lifecycle_stage)
            ]

    def get_metric_history(self, workspace: str, run_id: str, key: str) -> list[Metric]:
        with self._lock:
            if run_id not in self._runs[workspace]:
                return []
            return rules.history_order(self._history.get((run_id, key), []))
