"""The watch-fed cache of Experiments and Runs, with the indices MLflow's reads need.

The rules (newest resourceVersion wins, guarded removal, tombstones) are the shared cache's
(store/shared/cache.py); this module builds the records and keeps the MLflow indexes. Entities
are built once per object version, so search only walks and filters.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlkube import layout
from mlkube.api.errors import SpecError, parse
from mlkube.api.experiment import Experiment as ExperimentResource
from mlkube.api.experiment import ExperimentStatus
from mlkube.api.kinds import EXPERIMENT, RUN, Kind
from mlkube.api.run import Run as RunResource
from mlkube_operator.server.entities import Experiment, Run, ViewType
from mlkube_operator.server.store.shared.cache import ResourceCache
from mlkube_operator.server.store.tracking.kube import convert
from mlkube_operator.server.store.tracking.kube.extra import Extra


def counts_of(status: ExperimentStatus) -> dict[str, int]:
    """The run counts an Experiment's status holds."""
    return {
        "runs": status.runs,
        "activeRuns": status.active_runs,
        "succeededRuns": status.succeeded_runs,
        "failedRuns": status.failed_runs,
    }


log = logging.getLogger("mlkube.server.cache")
Obj = dict[str, Any]


# (namespace, experimentId, runId, object name) -> the document's content
ExtraLoader = Callable[[str, str, str, str], Extra]


@dataclass
class ExperimentRecord:
    resource: ExperimentResource
    version: int
    entity: Experiment | None

    @property
    def uid(self) -> str | None:
        return self.resource.metadata.uid


@dataclass
class RunRecord:
    resource: RunResource
    version: int
    extra: Extra
    entity: Run | None

    @property
    def uid(self) -> str | None:
        return self.resource.metadata.uid


class TrackingCache(ResourceCache):
    """Experiments and Runs, indexed by MLflow id, by name and by experiment."""

    def __init__(self, load_extra: ExtraLoader) -> None:
        super().__init__((EXPERIMENT, RUN))
        self._load_extra = load_extra
        self.experiments: dict[str, dict[str, ExperimentRecord]] = self.table(EXPERIMENT)
        self.experiment_ids: dict[str, dict[str, str]] = defaultdict(dict)
        self.runs: dict[str, dict[str, RunRecord]] = self.table(RUN)
        self.run_ids: dict[str, dict[str, str]] = defaultdict(dict)
        self.runs_by_experiment: dict[str, dict[str, set[str]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self.max_experiment_id = 0

    # -- writes of the store itself ---------------------------------------------------------

    def put_run(self, obj: Obj, extra: Extra | None) -> RunRecord | None:
        """Apply a Run the store just wrote (``extra``: its extra document, already known)."""
        record: RunRecord | None = self.put(RUN, obj, extra)
        return record

    def put_experiment(self, obj: Obj) -> ExperimentRecord | None:
        record: ExperimentRecord | None = self.put(EXPERIMENT, obj)
        return record

    # -- the shared cache's hooks -----------------------------------------------------------

    def build(self, kind: Kind, obj: Obj, version: int, old: Any, hint: Any) -> Any:
        if kind is EXPERIMENT:
            return self._experiment_record(obj, version)
        return self._run_record(obj, version, old, hint)

    def indexed(self, kind: Kind, namespace: str, name: str, old: Any, new: Any) -> None:
        if kind is EXPERIMENT:
            self._index_experiment(namespace, name, old, new)
            return
        if old is not None:
            self._unindex_run(namespace, name, old)
        if new.resource.status.run_id:
            self.run_ids[namespace][new.resource.status.run_id] = name
        self.runs_by_experiment[namespace][new.resource.spec.experiment].add(name)

    def unindexed(self, kind: Kind, namespace: str, name: str, old: Any) -> None:
        if kind is RUN:
            self._unindex_run(namespace, name, old)
        elif old.entity is not None:
            self.experiment_ids[namespace].pop(old.entity.experiment_id, None)

    # -- experiments ------------------------------------------------------------------------

    def _experiment_record(self, obj: Obj, version: int) -> ExperimentRecord | None:
        try:
            resource = parse(ExperimentResource, obj)
        except SpecError as err:
            log.warning("ignoring invalid Experiment %s: %s", obj["metadata"].get("name"), err)
            return None
        return ExperimentRecord(resource, version, convert.experiment_entity(resource))

    def _index_experiment(
        self, namespace: str, name: str, old: ExperimentRecord | None, new: ExperimentRecord
    ) -> None:
        if old is not None and old.entity is not None:
            self.experiment_ids[namespace].pop(old.entity.experiment_id, None)
        entity = new.entity
        if entity is None:
            return
        self.experiment_ids[namespace][entity.experiment_id] = name
        self.max_experiment_id = max(self.max_experiment_id, int(entity.experiment_id))
        # Runs carry their experiment's id: rebuild theirs if it changed.
        if old is None or old.entity is None:
            for run_name in self.runs_by_experiment[namespace].get(name, ()):
                run = self.runs[namespace].get(run_name)
                if run is not None:
                    run.entity = self._run_entity(namespace, run.resource, run.extra)

    def experiment(self, namespace: str, experiment_id: str) -> ExperimentRecord | None:
        with self._lock:
            name = self.experiment_ids[namespace].get(experiment_id)
            return None if name is None else self.experiments[namespace].get(name)

    def experiment_by_resource(self, namespace: str, name: str) -> ExperimentRecord | None:
        with self._lock:
            return self.experiments[namespace].get(name)

    def experiment_by_name(self, namespace: str, mlflow_name: str) -> ExperimentRecord | None:
        with self._lock:
            direct = self.experiments[namespace].get(convert.experiment_resource_name(mlflow_name))
            if direct is not None and convert.experiment_name(direct.resource) == mlflow_name:
                return direct
            for record in self.experiments[namespace].values():
                if convert.experiment_name(record.resource) == mlflow_name:
                    return record
            return None

    def list_experiments(self, namespace: str, view: ViewType) -> list[Experiment]:
        with self._lock:
            records = list(self.experiments[namespace].values())
        return [
            r.entity
            for r in records
            if r.entity is not None and view.admits(r.entity.lifecycle_stage)
        ]

    # -- runs -------------------------------------------------------------------------------

    def _experiment_id_of(self, namespace: str, resource: RunResource) -> str:
        record = self.experiments[namespace].get(resource.spec.experiment)
        if record is not None and record.entity is not None:
            return record.entity.experiment_id
        labelled = resource.metadata.labels.get(layout.EXPERIMENT_ID_LABEL)
        if labelled:
            return labelled
        return "0" if resource.spec.experiment == convert.DEFAULT_RESOURCE else ""

    def _run_entity(self, namespace: str, resource: RunResource, extra: Extra) -> Run | None:
        return convert.run_entity(resource, self._experiment_id_of(namespace, resource), extra)

    def _run_record(
        self, obj: Obj, version: int, old: RunRecord | None, known_extra: Extra | None
    ) -> RunRecord | None:
        try:
            resource = parse(RunResource, obj)
        except SpecError as err:
            log.warning("ignoring invalid Run %s: %s", obj["metadata"].get("name"), err)
            return None
        namespace = resource.metadata.namespace or ""
        wanted = resource.status.extra.object if resource.status.extra else None
        extra = known_extra
        if extra is None or extra.object != wanted:
            extra = old.extra if old is not None and old.extra.object == wanted else None
        if extra is None:
            extra = Extra()
            run_id = resource.status.run_id
            if wanted is not None and run_id is not None:
                with self._lock:
                    experiment_id = self._experiment_id_of(namespace, resource)
                extra = self._load_extra(namespace, experiment_id, run_id, wanted)
        with self._lock:
            entity = self._run_entity(namespace, resource, extra)
        return RunRecord(resource, version, extra, entity)

    def _unindex_run(self, namespace: str, name: str, record: RunRecord) -> None:
        if record.resource.status.run_id:
            self.run_ids[namespace].pop(record.resource.status.run_id, None)
        self.runs_by_experiment[namespace][record.resource.spec.experiment].discard(name)

    def run_phases(self) -> dict[tuple[str, str], Counter[str]]:
        """How many Runs of each (namespace, Experiment name) are in each phase (one walk over
        the cached Runs; no request)."""
        found: dict[tuple[str, str], Counter[str]] = {}
        with self._lock:
            for namespace, by_experiment in self.runs_by_experiment.items():
                runs = self.runs[namespace]
                for experiment, names in by_experiment.items():
                    phases = Counter(
                        str(record.resource.status.phase or "Pending")
                        for record in (runs.get(name) for name in names)
                        if record is not None
                    )
                    if phases:
                        found[namespace, experiment] = phases
        return found

    def experiment_counts(self) -> list[tuple[str, str, dict[str, int]]]:
        """(namespace, Experiment name, the run counts its status holds) of every Experiment."""
        with self._lock:
            return [
                (namespace, name, counts_of(record.resource.status))
                for namespace, records in self.experiments.items()
                for name, record in records.items()
            ]

    def run(self, namespace: str, run_id: str) -> RunRecord | None:
        with self._lock:
            name = self.run_ids[namespace].get(run_id)
            record = None if name is None else self.runs[namespace].get(name)
            if record is None or record.entity is None:
                return record
            # The experiment may have been given its id after the run was cached.
            experiment_id = self._experiment_id_of(namespace, record.resource)
            if record.entity.info.experiment_id != experiment_id and experiment_id:
                info = dataclasses.replace(record.entity.info, experiment_id=experiment_id)
                record.entity = dataclasses.replace(record.entity, info=info)
            return record

    def run_by_name(self, namespace: str, name: str) -> RunRecord | None:
        with self._lock:
            return self.runs[namespace].get(name)

    def runs_of(self, namespace: str, experiment_resource: str) -> list[RunRecord]:
        with self._lock:
            names = list(self.runs_by_experiment[namespace].get(experiment_resource, ()))
            table = self.runs[namespace]
            return [table[n] for n in names if n in table]
