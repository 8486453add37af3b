"""Events about pods and the node, as ``kubectl describe`` shows them (source: kubelet).

Recording never blocks the caller: events go through a bounded queue to one sender thread, which
folds a repeat of the same (object, reason, message) within ten minutes into the first event's
``count``, as client-go's event correlator does.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import quote

from e2e.cluster.agent.kube import ApiError, Client

log = logging.getLogger(__name__)
_FOLD_SECONDS = 600.0


@dataclass(frozen=True)
class Involved:
    kind: str
    namespace: str
    name: str
    uid: str
    field_path: str = ""


@dataclass
class _Seen:
    name: str
    count: int
    at: float


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Recorder:
    def __init__(self, client: Client, node: str, component: str = "kubelet") -> None:
        self.client = client
        self.node = node
        self.component = component
        self._queue: queue.Queue[tuple[Involved, str, str, str, str] | None] = queue.Queue(
            maxsize=1000
        )
        self._seen: dict[tuple[Involved, str, str], _Seen] = {}
        self._thread = threading.Thread(target=self._run, name="events", daemon=True)
        self._thread.start()

    def normal(self, obj: Involved, reason: str, message: str, component: str = "") -> None:
        self._put(obj, "Normal", reason, message, component or self.component)

    def warning(self, obj: Involved, reason: str, message: str, component: str = "") -> None:
        self._put(obj, "Warning", reason, message, component or self.component)

    def _put(self, obj: Involved, kind: str, reason: str, message: str, component: str) -> None:
        try:
            self._queue.put_nowait((obj, kind, reason, message, component))
        except queue.Full:
            log.warning("event queue full; dropped %s %s", reason, message)

    def stop(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            obj, kind, reason, message, component = item
            try:
                self._send(obj, kind, reason, message, component)
            except ApiError as err:
                if err.status != 404:  # the namespace is going away
                    log.warning("could not record event %s: %s", reason, err)

    def _send(self, obj: Involved, kind: str, reason: str, message: str, component: str) -> None:
        namespace = obj.namespace or "default"
        base = f"/api/v1/namespaces/{quote(namespace)}/events"
        key = (obj, reason, message)
        now = time.monotonic()
        seen = self._seen.get(key)
        if seen is not None and now - seen.at < _FOLD_SECONDS:
            seen.count += 1
            seen.at = now
            try:
                self.client.merge_patch(
                    f"{base}/{quote(seen.name)}", {"count": seen.count, "lastTimestamp": _now()}
                )
                return
            except ApiError as err:
                if err.status != 404:
                    raise
        name = f"{obj.name}.{uuid.uuid4().hex[:16]}"
        involved = {
            "apiVersion": "v1",
            "kind": obj.kind,
            "namespace": obj.namespace,
            "name": obj.name,
            "uid": obj.uid,
        }
        if obj.field_path:
            involved["fieldPath"] = obj.field_path
        stamp = _now()
        self.client.create(
            base,
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "type": kind,
                "source": {"component": component, "host": self.node},
                "reportingComponent": component,
                "reportingInstance": self.node,
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "count": 1,
            },
        )
        self._seen[key] = _Seen(name=name, count=1, at=now)
        if len(self._seen) > 4096:
            cutoff = now - _FOLD_SECONDS
            self._seen = {k: v for k, v in self._seen.items() if v.at > cutoff}
