"""The pod manager: routes the node's pod events to one worker per pod and cleans up after pods
that went away while nobody watched (directories of UIDs the API no longer knows)."""

from __future__ import annotations

import logging
import shutil
import threading

from e2e.cluster.agent.model import Pod
from e2e.cluster.agent.podworker import PodContext, PodWorker
from e2e.cluster.agent.status import TERMINAL

log = logging.getLogger(__name__)


class PodManager:
    def __init__(self, ctx: PodContext) -> None:
        self.ctx = ctx
        self._workers: dict[str, PodWorker] = {}
        self._lock = threading.Lock()

    def on_event(self, kind: str, old: Pod | None, new: Pod | None) -> None:
        """Informer handler for the pods bound to this node."""
        if self.ctx.stopping.is_set():
            return
        pod = new or old
        assert pod is not None
        uid = pod.metadata.uid
        with self._lock:
            worker = self._workers.get(uid)
            if worker is None:
                if new is None:
                    # Deleted while no worker was active (a finished pod): drop its logs.
                    shutil.rmtree(self.ctx.log_dir(pod), ignore_errors=True)
                    return
                finished = new.status.phase in TERMINAL
                if finished and new.metadata.deletion_timestamp is None:
                    return  # nothing runs, nothing to do until it is deleted
                if new.status.pod_ip and not new.spec.host_network and not finished:
                    # Known before the agent restarted: keep its address (before a new pod
                    # can take it).
                    self.ctx.ipam.allocate(uid, new.status.pod_ip)
                worker = PodWorker(self.ctx, new, self._done)
                self._workers[uid] = worker
                worker.start()
                return
        worker.update(new)

    def _done(self, worker: PodWorker) -> None:
        with self._lock:
            if self._workers.get(worker.uid) is worker:
                del self._workers[worker.uid]
        # News that reached the worker after its last sync must not be lost.
        pending, pod, gone = worker.pending()
        if pending:
            self.on_event("delete" if gone else "update", pod, None if gone else pod)

    def worker(self, uid: str) -> PodWorker | None:
        with self._lock:
            return self._workers.get(uid)

    def wake(self, uid: str) -> None:
        worker = self.worker(uid)
        if worker is not None:
            worker.wake()

    def cleanup_orphans(self, known: set[str], known_logs: set[str]) -> None:
        """Remove pod and log directories of pods the API does not have (any more)."""
        for directory in (self.ctx.root / "pods").glob("*"):
            if directory.name not in known and self.worker(directory.name) is None:
                log.info("removing the files of vanished pod %s", directory.name)
                shutil.rmtree(directory, ignore_errors=True)
        for directory in (self.ctx.root / "logs").glob("*"):
            if directory.name not in known_logs:
                shutil.rmtree(directory, ignore_errors=True)
