"""The watch-fed resource cache both Kubernetes stores read from: one implementation of the
informer handler protocol (kube/informer.py) and of the rules that keep a cache honest.

- Informers and the store's own write responses both feed ``put``; the copy with the higher
  resourceVersion wins, so a client reads its own writes at once and never an older copy after.
- A delete event removes the cached object only if the cached copy is not newer than the deleted
  one (the name may already hold a new object), and the uid is remembered (a bounded set of
  tombstones), so a late event or a stale write response cannot bring the object back.
- Subclasses say how an object becomes a record (``build``) and keep their own indexes in step
  (``indexed``/``unindexed``); they never touch the tables' rules themselves.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from typing import Any, Protocol

from mlkube.api.kinds import Kind

log = logging.getLogger("mlkube.server.cache")
Obj = dict[str, Any]
MAX_TOMBSTONES = 100_000


class Record(Protocol):
    """What the cache needs of a subclass's record: the object's resourceVersion and uid."""

    @property
    def version(self) -> int: ...

    @property
    def uid(self) -> str | None: ...


def resource_version(obj: Obj) -> int:
    try:
        return int(obj["metadata"]["resourceVersion"])
    except (KeyError, ValueError, TypeError):
        return 0


def _key(obj: Obj) -> tuple[str, str]:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


class Tombstones:
    """The uids of deleted objects, the oldest forgotten first beyond ``limit``."""

    def __init__(self, limit: int = MAX_TOMBSTONES) -> None:
        self.limit = limit
        self._uids: OrderedDict[str, None] = OrderedDict()

    def bury(self, uid: str | None) -> None:
        if uid:
            self._uids[uid] = None
            while len(self._uids) > self.limit:
                self._uids.popitem(last=False)

    def __contains__(self, uid: object) -> bool:
        return uid in self._uids

    def __len__(self) -> int:
        return len(self._uids)


class ResourceCache(ABC):
    """Records of several kinds by namespace and name, behind one lock."""

    #: An object with a deletionTimestamp is already gone for MLflow (finalizers hold it).
    hide_terminating = False

    def __init__(self, kinds: Iterable[Kind], tombstones: int = MAX_TOMBSTONES) -> None:
        self._lock = threading.RLock()
        self._tables: dict[Kind, defaultdict[str, dict[str, Any]]] = {
            kind: defaultdict(dict) for kind in kinds
        }
        self._gone = Tombstones(tombstones)

    def table(self, kind: Kind) -> defaultdict[str, dict[str, Any]]:
        """namespace -> name -> record; read it under ``self._lock``."""
        return self._tables[kind]

    # -- what subclasses define -------------------------------------------------------------

    @abstractmethod
    def build(self, kind: Kind, obj: Obj, version: int, old: Any, hint: Any) -> Any:
        """The record of ``obj`` (None if it is invalid); may do I/O: called without the lock.
        ``old`` is the cached record of that name, ``hint`` what the writer passed to ``put``."""

    @abstractmethod
    def indexed(self, kind: Kind, namespace: str, name: str, old: Any, new: Any) -> None:
        """``new`` replaced ``old`` (maybe None) under the lock: update the indexes."""

    @abstractmethod
    def unindexed(self, kind: Kind, namespace: str, name: str, old: Any) -> None:
        """``old`` left the cache under the lock: update the indexes."""

    # -- the informer handler protocol ------------------------------------------------------

    def replace(self, kind: Kind, objects: list[Obj], namespace: str | None) -> None:
        seen = {_key(obj) for obj in objects}
        for obj in objects:
            self.put(kind, obj)
        with self._lock:
            table = self._tables[kind]
            # One namespace's relist says nothing of the others (one informer per namespace).
            scope = table.items() if namespace is None else [(namespace, table.get(namespace, {}))]
            stale = [(ns, n) for ns, items in scope for n in items if (ns, n) not in seen]
            for where, name in stale:
                self._drop(kind, where, name)

    def upsert(self, kind: Kind, obj: Obj) -> None:
        self.put(kind, obj)

    def remove(self, kind: Kind, obj: Obj) -> None:
        namespace, name = _key(obj)
        with self._lock:
            self._gone.bury(obj["metadata"].get("uid"))
            record = self._tables[kind][namespace].get(name)
            if record is not None and record.version > resource_version(obj):
                return  # the name already holds a newer object
            self._drop(kind, namespace, name)

    # -- writes of the store itself ---------------------------------------------------------

    def put(self, kind: Kind, obj: Obj, hint: Any = None) -> Any:
        """Apply an object read from or written to the API server if it is the newest copy;
        the record now cached for its name (None if there is none, or it is invalid)."""
        namespace, name = _key(obj)
        uid = obj["metadata"].get("uid")
        version = resource_version(obj)
        table = self._tables[kind]
        with self._lock:
            old = self._current(kind, obj, uid, version)
            if old is not None:
                return old if old is not _ABSENT else None
            old = table[namespace].get(name)
        record = self.build(kind, obj, version, old, hint)
        if record is None:
            return None
        with self._lock:
            if uid in self._gone:
                return None
            old = table[namespace].get(name)
            if old is not None and old.version > version:
                return old
            table[namespace][name] = record
            self.indexed(kind, namespace, name, old, record)
            return record

    def _current(self, kind: Kind, obj: Obj, uid: str | None, version: int) -> Any:
        """Under the lock: what ``put`` answers without building (a newer record, or _ABSENT
        for a buried or terminating object), or None when ``obj`` is worth building."""
        namespace, name = _key(obj)
        if uid in self._gone:
            return _ABSENT
        if self.hide_terminating and obj["metadata"].get("deletionTimestamp"):
            self._gone.bury(uid)
            self._drop(kind, namespace, name)
            return _ABSENT
        old = self._tables[kind][namespace].get(name)
        if old is not None and old.version > version:
            return old
        return None

    def forget(self, kind: Kind, namespace: str, name: str) -> None:
        """The store deleted this object: it is gone now, whatever events come late."""
        with self._lock:
            record = self._tables[kind][namespace].get(name)
            if record is not None:
                self._gone.bury(record.uid)
            self._drop(kind, namespace, name)

    def _drop(self, kind: Kind, namespace: str, name: str) -> None:
        old = self._tables[kind][namespace].pop(name, None)
        if old is not None:
            self.unindexed(kind, namespace, name, old)


_ABSENT: Any = object()
