"""The watch-fed cache of RegisteredModels and ModelVersions.

Informers (cluster-wide) and the store's own write responses both feed it; the copy with the
higher resourceVersion wins, so a client reads its own writes at once and never an older copy
afterwards. An object being deleted (deletionTimestamp set: the operator's finalizers remove the
registry copy, or hold a model until its versions are gone) is already gone for MLflow, and the
uids of objects deleted here are remembered so that a late event cannot bring them back.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from typing import Any

from mlkube.api.errors import SpecError, parse
from mlkube.api.kinds import REGISTERED_MODEL, Kind
from mlkube.api.model_version import ModelVersion as VersionResource
from mlkube.api.registered_model import RegisteredModel as ModelResource
from mlkube_operator.server.store.registry.kube import convert, names

log = logging.getLogger("mlkube.server.registry.cache")
Obj = dict[str, Any]
MAX_TOMBSTONES = 100_000


@dataclass(frozen=True)
class ModelRecord:
    resource: ModelResource
    version: int


@dataclass(frozen=True)
class VersionRecord:
    resource: VersionResource
    version: int


def _resource_version(obj: Obj) -> int:
    try:
        return int(obj["metadata"]["resourceVersion"])
    except (KeyError, ValueError, TypeError):
        return 0


class RegistryCache:
    """Implements the informer handler protocol for the RegisteredModel and ModelVersion kinds."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._models: dict[str, dict[str, ModelRecord]] = defaultdict(dict)
        self._versions: dict[str, dict[str, VersionRecord]] = defaultdict(dict)
        self._versions_of: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._gone: OrderedDict[str, None] = OrderedDict()

    # -- the informer handler protocol ------------------------------------------------------

    def replace(self, kind: Kind, objects: list[Obj]) -> None:
        seen = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects}
        for obj in objects:
            self.upsert(kind, obj)
        with self._lock:
            table: dict[str, Any] = self._models if kind is REGISTERED_MODEL else self._versions
            stale = [(ns, n) for ns, items in table.items() for n in items if (ns, n) not in seen]
            for namespace, name in stale:
                self._drop(kind, namespace, name)

    def upsert(self, kind: Kind, obj: Obj) -> None:
        self.put(kind, obj)

    def remove(self, kind: Kind, obj: Obj) -> None:
        meta = obj["metadata"]
        with self._lock:
            self._bury(meta.get("uid"))
            self._drop(kind, meta.get("namespace", ""), meta["name"])

    # -- writes of the store itself ---------------------------------------------------------

    def put(self, kind: Kind, obj: Obj) -> None:
        """Apply an object read from or written to the API server (if it is the newest copy)."""
        meta = obj["metadata"]
        namespace, name, uid = meta.get("namespace", ""), meta["name"], meta.get("uid")
        version = _resource_version(obj)
        with self._lock:
            if uid in self._gone:
                return
            if meta.get("deletionTimestamp"):
                self._bury(uid)
                self._drop(kind, namespace, name)
                return
            table: dict[str, Any] = self._models if kind is REGISTERED_MODEL else self._versions
            old = table[namespace].get(name)
            if old is not None and old.version > version:
                return
        try:
            if kind is REGISTERED_MODEL:
                model = ModelRecord(parse(ModelResource, obj), version)
            else:
                mv = VersionRecord(parse(VersionResource, obj), version)
        except SpecError as err:
            log.warning("ignoring invalid %s %s/%s: %s", kind.kind, namespace, name, err)
            return
        with self._lock:
            if uid in self._gone:
                return
            old = table[namespace].get(name)
            if old is not None and old.version > version:
                return
            if kind is REGISTERED_MODEL:
                self._models[namespace][name] = model
            else:
                if old is not None:
                    self._versions_of[namespace][old.resource.spec.model].discard(name)
                self._versions[namespace][name] = mv
                self._versions_of[namespace][mv.resource.spec.model].add(name)

    def forget(self, kind: Kind, namespace: str, name: str) -> None:
        """The store deleted this object: it is gone now, whatever events come late."""
        with self._lock:
            table: dict[str, Any] = self._models if kind is REGISTERED_MODEL else self._versions
            record = table[namespace].get(name)
            if record is not None:
                self._bury(record.resource.metadata.uid)
            self._drop(kind, namespace, name)

    def _bury(self, uid: str | None) -> None:
        if uid:
            self._gone[uid] = None
            while len(self._gone) > MAX_TOMBSTONES:
                self._gone.popitem(last=False)

    def _drop(self, kind: Kind, namespace: str, name: str) -> None:
        if kind is REGISTERED_MODEL:
            self._models[namespace].pop(name, None)
            return
        old = self._versions[namespace].pop(name, None)
        if old is not None:
            self._versions_of[namespace][old.resource.spec.model].discard(name)

    # -- reads ------------------------------------------------------------------------------

    def model(self, namespace: str, resource_name: str) -> ModelRecord | None:
        with self._lock:
            return self._models[namespace].get(resource_name)

    def model_named(self, namespace: str, name: str) -> ModelRecord | None:
        """The model whose MLflow name is ``name``."""
        with self._lock:
            models = self._models[namespace]
            direct = models.get(names.model_resource_name(name))
            if direct is not None and convert.model_name(direct.resource) == name:
                return direct
            for record in models.values():
                if convert.model_name(record.resource) == name:
                    return record
            return None

    def models(self, namespace: str) -> list[ModelRecord]:
        with self._lock:
            return list(self._models[namespace].values())

    def versions_of(self, namespace: str, model: str) -> list[VersionRecord]:
        with self._lock:
            table = self._versions[namespace]
            return [table[n] for n in self._versions_of[namespace].get(model, ()) if n in table]
