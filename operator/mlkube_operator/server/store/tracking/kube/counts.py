"""Experiment run counts (status ``runs``, ``activeRuns``, ``succeededRuns``, ``failedRuns``).

The tracking server is their one writer (docs/architecture.md): its cache already holds every Run
of the cluster and its phase, while the operator would have to watch every tracking-only Run, and
each logged value is a status write of one (issue 12's bench: that watch was almost all of the
operator's CPU). A sweep every few seconds walks the cache and patches an Experiment only when its
counts moved. Every replica sweeps; they compute the same counts from the same watch, so a write
by one is a no-op for the others.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from mlkube.api.kinds import EXPERIMENT
from mlkube_operator.kube import KubeClient, KubeError, NotFound
from mlkube_operator.server.store.tracking.kube.cache import TrackingCache

log = logging.getLogger("mlkube.server.counts")
ACTIVE = ("Pending", "Running")
FAILED = ("Failed", "Killed")
INTERVAL = 5.0


def run_counts(by_phase: Mapping[str, int]) -> dict[str, int]:
    """The run counts of Experiment.status, from how many runs are in each phase."""
    return {
        "runs": sum(by_phase.values()),
        "activeRuns": sum(by_phase.get(p, 0) for p in ACTIVE),
        "succeededRuns": by_phase.get("Succeeded", 0),
        "failedRuns": sum(by_phase.get(p, 0) for p in FAILED),
    }


class RunCounts:
    """Keeps every Experiment's run counts equal to what the cache says, from a thread."""

    def __init__(self, client: KubeClient, cache: TrackingCache, interval: float = INTERVAL):
        self.client = client
        self.cache = cache
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> int:
        """Write the counts that moved; returns how many Experiments were written."""
        phases = self.cache.run_phases()
        written = 0
        for namespace, name, current in self.cache.experiment_counts():
            wanted = run_counts(phases.get((namespace, name), {}))
            if wanted == current:
                continue
            try:
                obj = self.client.patch(
                    EXPERIMENT, namespace, name, {"status": wanted}, status=True
                )
            except NotFound:
                continue  # deleted meanwhile
            except KubeError as err:
                log.warning("run counts of experiment %s/%s: %s", namespace, name, err)
                continue
            self.cache.put_experiment(obj)
            written += 1
        return written

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="run-counts", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sweep()
            except Exception:  # the next sweep tries again; a count is never worth a crash
                log.exception("run counts sweep failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
