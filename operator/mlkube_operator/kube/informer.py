"""Informer: list, then watch from the list's resourceVersion, forever; relist on 410 Gone.

The handler sees ``replace`` with the full list (and the informer's namespace, None for all) after
every (re)list, then ``upsert``/``remove`` per event. It runs in the informer's thread. Writers
that apply their own API responses to the same handler get read-your-writes; the handler decides
by resourceVersion which copy is newer.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from mlkube.api.kinds import Kind
from mlkube_operator.kube.client import KubeClient, Obj, WatchStream
from mlkube_operator.kube.errors import Gone, KubeError

log = logging.getLogger("mlkube.kube.informer")


class InformerHandler(Protocol):
    def replace(self, kind: Kind, objects: list[Obj], namespace: str | None) -> None:
        """``objects`` are every object of ``kind`` in ``namespace`` (None: in all namespaces);
        no other object of that scope exists any more. Objects outside it are not concerned:
        several informers, one per namespace, may feed one handler."""

    def upsert(self, kind: Kind, obj: Obj) -> None: ...
    def remove(self, kind: Kind, obj: Obj) -> None: ...


class Informer:
    """Keeps ``handler`` in step with every object of ``kind`` (in one namespace, or all)."""

    def __init__(
        self,
        client: KubeClient,
        kind: Kind,
        handler: InformerHandler,
        namespace: str | None = None,
        watch_timeout: int = 60,
    ) -> None:
        self.client = client
        self.kind = kind
        self.handler = handler
        self.namespace = namespace
        self.watch_timeout = watch_timeout
        self.synced = threading.Event()
        self._stopped = threading.Event()
        self._stream: WatchStream | None = None
        where = f"-{namespace}" if namespace else ""
        self._thread = threading.Thread(
            target=self._run, name=f"informer-{kind.plural}{where}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def wait_synced(self, timeout: float) -> bool:
        return self.synced.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        stream = self._stream
        if stream is not None:
            stream.close()
        self._thread.join(timeout)

    def _run(self) -> None:
        backoff = 0.2
        while not self._stopped.is_set():
            try:
                objects, version = self.client.list(self.kind, self.namespace)
                self.handler.replace(self.kind, objects, self.namespace)
                self.synced.set()
                backoff = 0.2
                self._watch(version)
            except Gone:
                log.info("%s: watch expired; listing again", self.kind.plural)
            except (KubeError, OSError, ValueError) as err:
                if self._stopped.is_set():
                    return
                log.warning("%s: %s; retrying in %.1fs", self.kind.plural, err, backoff)
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            except Exception:
                if self._stopped.is_set():
                    return
                log.exception("%s: informer failed; retrying", self.kind.plural)
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _watch(self, version: str) -> None:
        while not self._stopped.is_set():
            started = time.monotonic()
            self._stream = self.client.watch(
                self.kind, version, self.namespace, timeout=self.watch_timeout
            )
            try:
                for event, obj in self._stream:
                    version = self._apply(event, obj) or version
            finally:
                self._stream.close()
                self._stream = None
            if time.monotonic() - started < 0.05 and not self._stopped.is_set():
                self._stopped.wait(0.5)  # a watch that ends at once: do not spin

    def _apply(self, event: str, obj: Obj) -> str | None:
        metadata: dict[str, Any] = obj.get("metadata", {})
        version = metadata.get("resourceVersion")
        if event in ("ADDED", "MODIFIED"):
            self.handler.upsert(self.kind, obj)
        elif event == "DELETED":
            self.handler.remove(self.kind, obj)
        return str(version) if version else None
