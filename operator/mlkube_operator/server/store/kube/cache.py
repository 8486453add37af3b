"""The watch-fed cache of Experiments and Runs, with the indices MLflow's reads need.

Informers (cluster-wide) and the store's own write responses both feed ``upsert``; the copy with
the higher resourceVersion wins, so a client reads its own writes at once and never an older
copy afterwards. Entities are built once per object version, so search only walks and filters.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlkube.api.errors import SpecError, parse
from mlkube.api.experiment import Experiment as ExperimentResource
from mlkube.api.kinds import EXPERIMENT, RUN, Kind
from mlkube.api.run import Run as RunResource
from mlkube_operator.server.entities import Experiment, Run, ViewType
from mlkube_operator.server.store.kube import convert
from mlkube_operator.server.store.kube.extra import Extra

log = logging.getLogger("mlkube.server.cache")
Obj = dict[str, Any]


# (namespace, experimentId, runId, object name) -> the document's content
ExtraLoader = Callable[[str, str, str, str], Extra]


@dataclass
class ExperimentRecord:
    resource: ExperimentResource
    version: int
    entity: Experiment | None


@dataclass
class RunRecord:
    resource: RunResource
    version: int
    extra: Extra
    entity: Run | None


def _version(obj: Obj) -> int:
    try:
        return int(obj["metadata"]["resourceVersion"])
    except (KeyError, ValueError, TypeError):
        return 0


class TrackingCache:
    """Implements the informer handler protocol for the Experiment and Run kinds."""

    def __init__(self, load_extra: ExtraLoader) -> None:
        self._lock = threading.RLock()
        self._load_extra = load_extra
        self.experiments: dict[str, dict[str, ExperimentRecord]] = defaultdict(dict)
        self.experiment_ids: dict[str, dict[str, str]] = defaultdict(dict)
        self.runs: dict[str, dict[str, RunRecord]] = defaultdict(dict)
        self.run_ids: dict[str, dict[str, str]] = defaultdict(dict)
        self.runs_by_experiment: dict[str, dict[str, set[str]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self.max_experiment_id = 0

    # -- the informer handler protocol ------------------------------------------------------

    def replace(self, kind: Kind, objects: list[Obj]) -> None:
        seen: set[tuple[str, str]] = set()
        for obj in objects:
            self.upsert(kind, obj)
            seen.add((obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))
        with self._lock:
            table: dict[str, Any] = self.experiments if kind is EXPERIMENT else self.runs
            stale = [
                (ns, name)
                for ns, items in table.items()
                for name in items
                if (ns, name) not in seen
            ]
        for namespace, name in stale:
            self._forget(kind, namespace, name)

    def upsert(self, kind: Kind, obj: Obj) -> None:
        if kind is EXPERIMENT:
            self._upsert_experiment(obj)
        elif kind is RUN:
            self._upsert_run(obj, None)

    def remove(self, kind: Kind, obj: Obj) -> None:
        namespace, name = obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
        with self._lock:
            table: dict[str, Any] = self.experiments if kind is EXPERIMENT else self.runs
            record = table[namespace].get(name)
            if record is None or record.version > _version(obj):
                return
        self._forget(kind, namespace, name)

    # -- writes of the store itself ---------------------------------------------------------

    def put_run(self, obj: Obj, extra: Extra | None) -> RunRecord | None:
        """Apply a Run the store just wrote (``extra``: its extra document, already known)."""
        return self._upsert_run(obj, extra)

    def put_experiment(self, obj: Obj) -> ExperimentRecord | None:
        return self._upsert_experiment(obj)

    # -- experiments ------------------------------------------------------------------------

    def _upsert_experiment(self, obj: Obj) -> ExperimentRecord | None:
        try:
            resource = parse(ExperimentResource, obj)
        except SpecError as err:
            log.warning("ignoring invalid Experiment %s: %s", obj["metadata"].get("name"), err)
            return None
        namespace = resource.metadata.namespace or ""
        name = resource.metadata.name
        version = _version(obj)
        entity = convert.experiment_entity(resource)
        with self._lock:
            old = self.experiments[namespace].get(name)
            if old is not None and old.version > version:
                return old
            if old is not None and old.entity is not None:
                self.experiment_ids[namespace].pop(old.entity.experiment_id, None)
            record = ExperimentRecord(resource, version, entity)
            self.experiments[namespace][name] = record
            if entity is not None:
                self.experiment_ids[namespace][entity.experiment_id] = name
                self.max_experiment_id = max(self.max_experiment_id, int(entity.experiment_id))
            # Runs carry their experiment's id: rebuild theirs if it changed.
            if entity is not None and (old is None or old.entity is None):
                for run_name in self.runs_by_experiment[namespace].get(name, ()):
                    run = self.runs[namespace].get(run_name)
                    if run is not None:
                        run.entity = self._run_entity(namespace, run.resource, run.extra)
            return record

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
        labelled = resource.metadata.labels.get(convert.EXPERIMENT_ID_LABEL)
        if labelled:
            return labelled
        return "0" if resource.spec.experiment == convert.DEFAULT_RESOURCE else ""

    def _run_entity(self, namespace: str, resource: RunResource, extra: Extra) -> Run | None:
        return convert.run_entity(resource, self._experiment_id_of(namespace, resource), extra)

    def _upsert_run(self, obj: Obj, known_extra: Extra | None) -> RunRecord | None:
        try:
            resource = parse(RunResource, obj)
        except SpecError as err:
            log.warning("ignoring invalid Run %s: %s", obj["metadata"].get("name"), err)
            return None
        namespace = resource.metadata.namespace or ""
        name = resource.metadata.name
        version = _version(obj)
        with self._lock:
            old = self.runs[namespace].get(name)
            if old is not None and old.version > version:
                return old
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
            old = self.runs[namespace].get(name)
            if old is not None and old.version > version:
                return old
            if old is not None:
                self._unindex_run(namespace, name, old)
            record = RunRecord(
                resource, version, extra, self._run_entity(namespace, resource, extra)
            )
            self.runs[namespace][name] = record
            if resource.status.run_id:
                self.run_ids[namespace][resource.status.run_id] = name
            self.runs_by_experiment[namespace][resource.spec.experiment].add(name)
            return record

    def _unindex_run(self, namespace: str, name: str, record: RunRecord) -> None:
        if record.resource.status.run_id:
            self.run_ids[namespace].pop(record.resource.status.run_id, None)
        self.runs_by_experiment[namespace][record.resource.spec.experiment].discard(name)

    def _forget(self, kind: Kind, namespace: str, name: str) -> None:
        with self._lock:
            if kind is EXPERIMENT:
                old_experiment = self.experiments[namespace].pop(name, None)
                if old_experiment is not None and old_experiment.entity is not None:
                    self.experiment_ids[namespace].pop(old_experiment.entity.experiment_id, None)
            else:
                old_run = self.runs[namespace].pop(name, None)
                if old_run is not None:
                    self._unindex_run(namespace, name, old_run)

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
