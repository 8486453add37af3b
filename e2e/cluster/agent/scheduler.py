"""The scheduler's job for a one-node cluster: bind every pending pod that names the default
scheduler and fits this node; mark the others ``PodScheduled=False/Unschedulable`` with
kube-scheduler's message and a FailedScheduling event, and retry them when anything changes (and
every few seconds). Higher priority first, then oldest first. Pods that name another scheduler are
left alone; a pod created with ``spec.nodeName`` never passes here (the node runs it directly)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from e2e.cluster.agent import fit
from e2e.cluster.agent.api import Api
from e2e.cluster.agent.events import Involved, Recorder
from e2e.cluster.agent.informer import Informer
from e2e.cluster.agent.kube import ApiError
from e2e.cluster.agent.model import Node, Pod

log = logging.getLogger(__name__)
SCHEDULER = "default-scheduler"
RETRY_SECONDS = 5.0
# A bound pod counts against the node until the node's pod cache shows it.
ASSUME_SECONDS = 30.0


class Scheduler:
    def __init__(
        self,
        *,
        api: Api,
        node_name: str,
        node: Callable[[], Node | None],
        pending: Informer[Pod],
        assigned: Callable[[], list[Pod]],
        recorder: Recorder,
    ) -> None:
        self.api = api
        self.node_name = node_name
        self.node = node
        self.pending = pending
        self.assigned = assigned
        self.recorder = recorder
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._assumed: dict[str, tuple[Pod, float]] = {}
        self._reported: dict[str, str] = {}
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        pending.add_handler(lambda *_: self._wake.set())

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(RETRY_SECONDS)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._pass()
            except Exception:
                log.exception("scheduling pass failed")

    def _pass(self) -> None:
        node = self.node()
        if node is None:
            return
        now = time.monotonic()
        on_node = {p.metadata.uid: p for p in self.assigned()}
        self._assumed = {
            uid: (pod, at)
            for uid, (pod, at) in self._assumed.items()
            if uid not in on_node and now - at < ASSUME_SECONDS
        }
        queue = sorted(
            (p for p in self.pending.list() if self._ours(p)),
            key=lambda p: (-p.spec.priority, p.metadata.creation_timestamp or ""),
        )
        pending_uids = {p.metadata.uid for p in queue}
        self._reported = {k: v for k, v in self._reported.items() if k in pending_uids}
        for pod in queue:
            if pod.metadata.uid in self._assumed:
                continue
            others = list(on_node.values()) + [p for p, _ in self._assumed.values()]
            reasons = fit.unfit(pod, node, others)
            if reasons:
                self._unschedulable(pod, fit.message(reasons))
                continue
            try:
                self.api.bind(pod, self.node_name)
            except ApiError as err:
                if err.status not in (404, 409):
                    log.warning("binding %s: %s", pod.key, err)
                continue
            self._assumed[pod.metadata.uid] = (pod, now)
            self.recorder.normal(
                _involved(pod),
                "Scheduled",
                f"Successfully assigned {pod.key} to {self.node_name}",
                SCHEDULER,
            )

    @staticmethod
    def _ours(pod: Pod) -> bool:
        return (
            not pod.spec.node_name
            and pod.spec.scheduler_name == "default-scheduler"
            and pod.metadata.deletion_timestamp is None
            and pod.status.phase not in ("Succeeded", "Failed")
        )

    def _unschedulable(self, pod: Pod, message: str) -> None:
        uid = pod.metadata.uid
        if self._reported.get(uid) == message:
            return
        self._reported[uid] = message
        self.recorder.warning(_involved(pod), "FailedScheduling", message, SCHEDULER)
        try:
            self.api.patch_pod_conditions(
                pod,
                [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": message,
                        "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    }
                ],
            )
        except ApiError as err:
            if err.status != 404:
                log.warning("marking %s unschedulable: %s", pod.key, err)


def _involved(pod: Pod) -> Involved:
    return Involved("Pod", pod.metadata.namespace, pod.metadata.name, pod.metadata.uid)
