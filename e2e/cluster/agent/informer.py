"""List-then-watch caches of API objects, like client-go's reflector and informer.

Each informer lists its collection, then watches from the list's resourceVersion. The server ends
every watch after a bounded time; the informer resumes from the last resourceVersion it saw
(bookmarks keep that fresh) and relists after ``410 Gone`` or an error, with capped backoff.
Handlers get ``(kind, old, new)`` for adds, updates and deletes, and the whole cache again every
``resync`` seconds, so a missed event is never fatal (level-triggered consumers).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from e2e.cluster.agent.kube import JSON, ApiError, Client
from e2e.cluster.agent.model import KubeModel

log = logging.getLogger(__name__)

T = TypeVar("T", bound=KubeModel)
# (event, old, new): "add" has no old, "delete" has no new, "sync" has both the same.
Handler = Callable[[str, T | None, T | None], None]


def key_of(obj: JSON) -> str:
    meta = obj.get("metadata", {})
    namespace = meta.get("namespace", "")
    return f"{namespace}/{meta.get('name', '')}" if namespace else str(meta.get("name", ""))


class Informer(Generic[T]):
    def __init__(
        self,
        client: Client,
        path: str,
        model: type[T],
        *,
        field_selector: str = "",
        label_selector: str = "",
        resync: float = 60.0,
        name: str = "",
    ) -> None:
        self.client = client
        self.path = path
        self.model = model
        self.query: dict[str, str | int] = {}
        if field_selector:
            self.query["fieldSelector"] = field_selector
        if label_selector:
            self.query["labelSelector"] = label_selector
        self.resync = resync
        self.name = name or path
        self.handlers: list[Handler[T]] = []
        self.synced = threading.Event()
        self._items: dict[str, T] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"informer {self.name}", daemon=True)

    def add_handler(self, handler: Handler[T]) -> None:
        self.handlers.append(handler)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    # -- reading the cache ----------------------------------------------------------------------

    def get(self, key: str) -> T | None:
        with self._lock:
            return self._items.get(key)

    def list(self) -> list[T]:
        with self._lock:
            return list(self._items.values())

    # -- the loop -------------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.5
        version = ""
        next_resync = time.monotonic() + self.resync
        while not self._stop.is_set():
            try:
                if not version:
                    version = self._relist()
                    self.synced.set()
                version = self._watch(version)
                backoff = 0.5
            except ApiError as err:
                if err.status == 410:
                    log.info("%s: resourceVersion too old; relisting", self.name)
                else:
                    log.warning("%s: %s; retrying in %.1fs", self.name, err, backoff)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
                version = ""
            except Exception:
                log.exception("%s: unexpected error; relisting in %.1fs", self.name, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                version = ""
            if time.monotonic() > next_resync:
                next_resync = time.monotonic() + self.resync
                for item in self.list():
                    self._notify("sync", item, item)

    def _relist(self) -> str:
        raw, version = self.client.list_all(self.path, **self.query)
        fresh = {key_of(obj): self.model.model_validate(obj) for obj in raw}
        with self._lock:
            old = self._items
            self._items = fresh
        for key, item in fresh.items():
            before = old.get(key)
            if before is None:
                self._notify("add", None, item)
            elif before.model_dump() != item.model_dump():
                self._notify("update", before, item)
        for key, item in old.items():
            if key not in fresh:
                self._notify("delete", item, None)
        return version

    def _watch(self, version: str) -> str:
        # Spread the watches' ends, as client-go does, so they do not all relist at once.
        timeout = random.randint(240, 360)
        for event in self.client.watch(self.path, version, timeout, **self.query):
            if self._stop.is_set():
                break
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                code = int(obj.get("code", 500))
                raise ApiError(code, str(obj.get("reason", "")), str(obj.get("message", "")))
            version = str(obj.get("metadata", {}).get("resourceVersion", version))
            if kind == "BOOKMARK":
                continue
            key = key_of(obj)
            item = self.model.model_validate(obj)
            with self._lock:
                before = self._items.get(key)
                if kind == "DELETED":
                    self._items.pop(key, None)
                else:
                    self._items[key] = item
            if kind == "DELETED":
                self._notify("delete", before or item, None)
            elif before is None:
                self._notify("add", None, item)
            else:
                self._notify("update", before, item)
        return version

    def _notify(self, kind: str, old: T | None, new: T | None) -> None:
        for handler in self.handlers:
            try:
                handler(kind, old, new)
            except Exception:
                log.exception("%s: handler failed on %s", self.name, kind)
