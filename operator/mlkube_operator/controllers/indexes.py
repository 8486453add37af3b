"""Kopf indexes: what the controllers read instead of GET and LIST requests.

Each index is fed by the operator's own watch streams, so a reconcile reads Runs, Experiments,
Jobs, pods, RegisteredModels and ModelVersions from memory; the API server is asked only to write
(issue 12: no LIST per event, no re-read of the world per tracking write). Values are small plain
dicts cut from the objects, so an index holds no reference to Kopf's bodies.

Kopf passes an index to a handler as the keyword argument named after the index function;
``Indexes.of(kwargs)`` collects the ones a reconcile needs, typed. The index functions are
``async`` although they never wait: Kopf calls a sync function in its thread pool, and these run
on every event of every Run (tracking-only ones too), so a thread hop each would cost more than
the function itself.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import kopf

from mlkube.api.kinds import EXPERIMENT, MODEL_VERSION, REGISTERED_MODEL, RUN, SWEEP
from mlkube.layout import (
    MANAGED_BY,
    RUN_ID_LABEL,
    RUN_LABEL,
    SWEEP_LABEL,
    SWEEP_PARENT_LABEL,
)
from mlkube_operator.resources.distributed import COMPLETION_INDEX

Key = tuple[str | None, str]
Obj = dict[str, Any]
V = TypeVar("V")


def _plain(value: Any) -> Any:
    """A deep copy made of plain dicts and lists (Kopf's views are live)."""
    return copy.deepcopy(dict(value)) if isinstance(value, Mapping) else copy.deepcopy(value)


# -- Runs ------------------------------------------------------------------------------------------


# What the tracking server writes into a Run's status; the operator never reads it.
TRACKING_FIELDS = frozenset({"params", "metrics", "tags", "modelOutputs", "inputs"})


def lifecycle_view(body: Mapping[str, Any]) -> Obj:
    """A Run as the operator reads it: metadata, spec, and status without the tracking fields
    (apiVersion and kind too: Events about the Run name it by them)."""
    status = body.get("status") or {}
    return {
        "apiVersion": body.get("apiVersion") or f"{RUN.group}/{RUN.version}",
        "kind": body.get("kind") or RUN.kind,
        "metadata": _plain(body.get("metadata") or {}),
        "spec": _plain(body.get("spec") or {}),
        "status": {k: _plain(v) for k, v in status.items() if k not in TRACKING_FIELDS},
    }


@kopf.index(RUN.group, RUN.version, RUN.plural, field="spec.project")
async def project_runs(
    namespace: str | None, name: str, body: kopf.Body, **_: Any
) -> dict[Key, Obj]:
    """Project Runs (those with spec.project) by (namespace, name), so events of a Run's Job
    and pods reconcile it without a GET. Tracking-only Runs are not held."""
    return {(namespace, name): lifecycle_view(body)}


# -- Experiments -----------------------------------------------------------------------------------


@kopf.index(EXPERIMENT.group, EXPERIMENT.version, EXPERIMENT.plural)
async def experiments(
    namespace: str | None, name: str, spec: kopf.Spec, status: kopf.Status, **_: Any
) -> dict[Key, Obj]:
    """Experiments by (namespace, name): their id (once assigned) and spec.artifactLocation."""
    return {
        (namespace, name): {
            "experimentId": status.get("experimentId"),
            "artifactLocation": spec.get("artifactLocation"),
        }
    }


# -- Jobs and pods of project Runs -----------------------------------------------------------------


@kopf.index("batch", "v1", "jobs", labels={RUN_LABEL: kopf.PRESENT, **MANAGED_BY})
async def run_jobs(
    namespace: str | None, body: kopf.Body, labels: kopf.Labels, **_: Any
) -> dict[Key, Obj]:
    """The Job of each project Run, by (namespace, Run name)."""
    meta = body.get("metadata") or {}
    job = {
        "metadata": {
            "name": meta.get("name"),
            "ownerReferences": _plain(meta.get("ownerReferences") or []),
        },
        "spec": {"suspend": bool((body.get("spec") or {}).get("suspend"))},
        "status": _plain(body.get("status") or {}),
    }
    return {(namespace, labels[RUN_LABEL]): job}


@kopf.index("", "v1", "pods", labels={RUN_LABEL: kopf.PRESENT})
async def run_pods(
    namespace: str | None, meta: kopf.Meta, status: kopf.Status, labels: kopf.Labels, **_: Any
) -> dict[Key, Obj]:
    """The pods of each project Run's Job, by (namespace, Run name): their state, and whether
    their log is still to be saved (the finalizer) and for which run (the run-id label)."""
    pod = {
        "metadata": {
            "name": meta.get("name"),
            "creationTimestamp": meta.get("creationTimestamp"),
            "deletionTimestamp": meta.get("deletionTimestamp"),
            "finalizers": list(meta.get("finalizers") or []),
            # The rank, in a distributed Run's Job (status names a failed one).
            "labels": {
                RUN_ID_LABEL: labels.get(RUN_ID_LABEL),
                COMPLETION_INDEX: labels.get(COMPLETION_INDEX),
            },
        },
        "status": _plain(status),
    }
    return {(namespace, labels[RUN_LABEL]): pod}


# -- Registry --------------------------------------------------------------------------------------


@kopf.index(REGISTERED_MODEL.group, REGISTERED_MODEL.version, REGISTERED_MODEL.plural)
async def registered_models(
    namespace: str | None, name: str, spec: kopf.Spec, **_: Any
) -> dict[Key, Obj]:
    """RegisteredModels by (namespace, name): their aliases."""
    return {(namespace, name): {"aliases": _plain(spec.get("aliases") or {})}}


@kopf.index(MODEL_VERSION.group, MODEL_VERSION.version, MODEL_VERSION.plural, field="spec.model")
async def versions_by_model(
    namespace: str | None, name: str, spec: kopf.Spec, status: kopf.Status, **_: Any
) -> dict[Key, Obj]:
    """ModelVersions by (namespace, model): what resolving a model reference reads."""
    return {
        (namespace, str(spec["model"])): {
            "name": name,
            "stage": spec.get("stage"),
            "version": status.get("version"),
            "phase": status.get("phase"),
            "message": status.get("message"),
        }
    }


# -- Sweeps ----------------------------------------------------------------------------------------


@kopf.index(SWEEP.group, SWEEP.version, SWEEP.plural)
async def sweeps(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> dict[Key, Obj]:
    """Sweeps by (namespace, name), so an event of a trial re-plans its Sweep without a GET."""
    return {(namespace, name): _plain(body)}


def trial_view(body: Mapping[str, Any]) -> Obj:
    """A trial Run as the sweep controller reads it: the lifecycle view, plus its latest metric
    values (the objective is one) and annotations (the pruned mark)."""
    view = lifecycle_view(body)
    view["status"]["metrics"] = _plain((body.get("status") or {}).get("metrics") or {})
    return view


@kopf.index(RUN.group, RUN.version, RUN.plural, labels={SWEEP_LABEL: kopf.PRESENT})
async def sweep_trials(
    namespace: str | None, body: kopf.Body, labels: kopf.Labels, **_: Any
) -> dict[Key, Obj]:
    """The trial Runs of each Sweep, by (namespace, Sweep name)."""
    return {(namespace, labels[SWEEP_LABEL]): trial_view(body)}


@kopf.index(RUN.group, RUN.version, RUN.plural, labels={SWEEP_PARENT_LABEL: kopf.PRESENT})
async def sweep_parents(
    namespace: str | None, body: kopf.Body, labels: kopf.Labels, **_: Any
) -> dict[Key, Obj]:
    """The parent run of each Sweep, by (namespace, Sweep name)."""
    return {(namespace, labels[SWEEP_PARENT_LABEL]): lifecycle_view(body)}


# -- typed access ----------------------------------------------------------------------------------


def _one(index: kopf.Index[Key, Obj], key: Key) -> Obj | None:
    store = index.get(key)
    if not store:
        return None
    return next(iter(store))


@dataclass(frozen=True)
class Indexes:
    """The indexes a reconcile reads, from a handler's keyword arguments."""

    runs: kopf.Index[Key, Obj]
    experiments: kopf.Index[Key, Obj]
    jobs: kopf.Index[Key, Obj]
    pods: kopf.Index[Key, Obj]
    models: kopf.Index[Key, Obj]
    versions: kopf.Index[Key, Obj]

    @classmethod
    def of(cls, kwargs: Mapping[str, Any]) -> Indexes:
        return cls(
            runs=kwargs["project_runs"],
            experiments=kwargs["experiments"],
            jobs=kwargs["run_jobs"],
            pods=kwargs["run_pods"],
            models=kwargs["registered_models"],
            versions=kwargs["versions_by_model"],
        )

    def run(self, namespace: str, name: str) -> Obj | None:
        return _one(self.runs, (namespace, name))

    def project_run_named_by_id(self, namespace: str, run_id: str) -> str | None:
        """The name of the project Run of ``namespace`` whose run id is ``run_id``."""
        for (run_namespace, name), store in self.runs.items():
            if run_namespace != namespace:
                continue
            for view in store:
                status, meta = view.get("status") or {}, view.get("metadata") or {}
                if run_id in (status.get("runId"), str(meta.get("uid", "")).replace("-", "")):
                    return str(name)
        return None

    def experiment(self, namespace: str, name: str) -> Obj | None:
        return _one(self.experiments, (namespace, name))

    def job(self, namespace: str, run: str) -> Obj | None:
        return _one(self.jobs, (namespace, run))

    def pods_of(self, namespace: str, run: str) -> list[Obj]:
        return list(self.pods.get((namespace, run)) or [])

    def model(self, namespace: str, name: str) -> Obj | None:
        return _one(self.models, (namespace, name))

    def versions_of(self, namespace: str, model: str) -> list[Obj]:
        return list(self.versions.get((namespace, model)) or [])


@dataclass(frozen=True)
class SweepIndexes:
    """The indexes a Sweep's reconcile reads, from a handler's keyword arguments."""

    sweeps: kopf.Index[Key, Obj]
    trials: kopf.Index[Key, Obj]
    parents: kopf.Index[Key, Obj]

    @classmethod
    def of(cls, kwargs: Mapping[str, Any]) -> SweepIndexes:
        return cls(
            sweeps=kwargs["sweeps"],
            trials=kwargs["sweep_trials"],
            parents=kwargs["sweep_parents"],
        )

    def sweep(self, namespace: str, name: str) -> Obj | None:
        return _one(self.sweeps, (namespace, name))

    def trials_of(self, namespace: str, sweep: str) -> list[Obj]:
        return list(self.trials.get((namespace, sweep)) or [])

    def parent(self, namespace: str, sweep: str) -> Obj | None:
        return _one(self.parents, (namespace, sweep))
