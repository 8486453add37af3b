"""Every Run of every namespace, reduced to what two controllers need: a light informer.

Kopf watches only project Runs (main.py puts a server-side label selector on its Run watch:
tracking-only Runs, which the tracking server makes, carry ``mlkube.io/run-id`` from birth). The
many tracking writes to tracking-only Runs (each metric is a status patch) therefore never reach
Kopf's per-event machinery, which costs far more than the write it would react to (issue 12's
bench). Two things still need every Run:

- the Experiment controller's run counts (runs by experiment, with their phases);
- ModelVersion registration, whose ``runs:/<runId>/...`` sources name runs of any kind.

This catalog keeps both as dicts, fed by ``kube.Informer`` (list, then watch) in a thread of its
own: per event one JSON decode and a few dict operations.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from mlkube.api.kinds import RUN, Kind
from mlkube_operator.kube.client import KubeClient
from mlkube_operator.kube.informer import Informer

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name)


class RunCatalog:
    """Runs by (namespace, name): their experiment, phase, run id and logged-model outputs."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._runs: dict[Key, tuple[str, str, str | None]] = {}  # -> (experiment, phase, runId)
        self._by_id: dict[Key, Obj] = {}  # (namespace, runId) -> what runs:/ sources need
        self._counts: dict[Key, Counter[str]] = {}  # (namespace, experiment) -> phase counts
        self._informers: list[Informer] = []

    # -- InformerHandler --------------------------------------------------------------------------

    def replace(self, kind: Kind, objects: list[Obj]) -> None:
        with self._guard:
            self._runs.clear()
            self._by_id.clear()
            self._counts.clear()
            for obj in objects:
                self._put(obj)

    def replace_namespace(self, objects: list[Obj]) -> None:
        """A relist of one namespace (when it lists nothing, its runs stay until their own
        removal events: the namespace is not known from an empty list)."""
        with self._guard:
            namespaces = {(o.get("metadata") or {}).get("namespace") for o in objects}
            for namespace, name in [k for k in self._runs if k[0] in namespaces]:
                self._drop({"metadata": {"namespace": namespace, "name": name}})
            for obj in objects:
                self._put(obj)

    def upsert(self, kind: Kind, obj: Obj) -> None:
        with self._guard:
            self._drop(obj)
            self._put(obj)

    def remove(self, kind: Kind, obj: Obj) -> None:
        with self._guard:
            self._drop(obj)

    def _put(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        namespace = str(meta.get("namespace") or "")
        run_id = status.get("runId")
        experiment = str(spec.get("experiment") or "default")
        phase = str(status.get("phase") or "Pending")
        self._runs[namespace, str(meta.get("name"))] = (
            experiment,
            phase,
            str(run_id) if run_id else None,
        )
        self._counts.setdefault((namespace, experiment), Counter())[phase] += 1
        if run_id:
            outputs = [dict(o) for o in status.get("modelOutputs") or []]
            self._by_id[namespace, str(run_id)] = {
                "experiment": experiment,
                "modelOutputs": outputs,
            }

    def _drop(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name")))
        old = self._runs.pop(key, None)
        if old is None:
            return
        experiment, phase, run_id = old
        if run_id is not None:
            self._by_id.pop((key[0], run_id), None)
        counts = self._counts[key[0], experiment]
        counts[phase] -= 1
        if counts[phase] <= 0:
            del counts[phase]
        if not counts:
            del self._counts[key[0], experiment]

    # -- reads ------------------------------------------------------------------------------------

    def run_by_id(self, namespace: str, run_id: str) -> Obj | None:
        """The experiment and model outputs of run ``run_id`` (None: no such run)."""
        with self._guard:
            found = self._by_id.get((namespace, run_id))
            return None if found is None else dict(found)

    def phases(self, namespace: str, experiment: str) -> Counter[str]:
        """How many runs of the experiment are in each phase (kept counted: not a scan)."""
        with self._guard:
            return Counter(self._counts.get((namespace, experiment)) or {})

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, kube: KubeClient, namespaces: list[str]) -> None:
        """Start feeding the catalog: one informer per watched namespace, or one for all."""
        handler = self if len(namespaces) <= 1 else _Namespaced(self)
        watched: list[str | None] = list(namespaces) or [None]
        for namespace in watched:
            informer = Informer(kube, RUN, handler, namespace)
            informer.start()
            self._informers.append(informer)

    def wait_synced(self, timeout: float) -> bool:
        return all(i.wait_synced(timeout) for i in self._informers)

    def stop(self) -> None:
        for informer in self._informers:
            informer.stop()


class _Namespaced:
    """Several informers (one per namespace) feeding one catalog: a relist replaces only the
    runs of the namespace it lists."""

    def __init__(self, catalog: RunCatalog) -> None:
        self.catalog = catalog

    def replace(self, kind: Kind, objects: list[Obj]) -> None:
        self.catalog.replace_namespace(objects)

    def upsert(self, kind: Kind, obj: Obj) -> None:
        self.catalog.upsert(kind, obj)

    def remove(self, kind: Kind, obj: Obj) -> None:
        self.catalog.remove(kind, obj)
