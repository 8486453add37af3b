"""KubeStore: MLflow tracking on Experiment and Run resources plus object storage.

- Experiments and Runs are custom resources (tracking-only Runs for client-created runs); params,
  tags and the latest metrics live in the Run's status, metric histories, overflowing params and
  tags, dataset inputs and logged models in object storage (layout in artifacts/mlkube.layout).
- Reads come from a watch-fed cache (cache.py) that the store's own write responses update too,
  so a client reads its own writes.
- Writes to a run go through run_writer.py: concurrent writes are coalesced into one patch, and
  each caller returns once its write is durable; a 409 makes it re-read and re-apply.
- One writer per status field: for project runs (spec.project) the operator owns phase and
  times; the store then only writes params, metrics, tags, inputs, outputs and lifecycleStage.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from mlkube import layout
from mlkube.api.kinds import EXPERIMENT, RUN
from mlkube.objects import ObjectNotFound, ObjectStore
from mlkube_operator.kube import KubeClient
from mlkube_operator.server.errors import MlflowError
from mlkube_operator.server.store.shared.watched import WatchedStore
from mlkube_operator.server.store.tracking.kube.cache import TrackingCache
from mlkube_operator.server.store.tracking.kube.counts import RunCounts
from mlkube_operator.server.store.tracking.kube.extra import Extra, extra_from_json
from mlkube_operator.server.store.tracking.kube.history import MetricHistory
from mlkube_operator.server.store.tracking.kube.logged_models import KubeLoggedModels
from mlkube_operator.server.store.tracking.kube.models import LoggedModels
from mlkube_operator.server.store.tracking.kube.run_writer import RunWriter
from mlkube_operator.server.store.tracking.kube.runs import KubeRuns

log = logging.getLogger("mlkube.server.store")


class KubeStore(WatchedStore, KubeRuns, KubeLoggedModels):
    """The aggregates (experiments.py, runs.py, logged_models.py) over one cache and writer."""

    def __init__(
        self,
        client: KubeClient,
        objects: ObjectStore,
        id_namespace: str,
        namespaces: Sequence[str] = (),
    ) -> None:
        """``namespaces``: the ones watched (empty: every namespace; shared/watched.py)."""
        self.client = client
        self.objects = objects
        self.id_namespace = id_namespace
        self.cache = TrackingCache(self._load_extra)
        self.history = MetricHistory(objects)
        self.models = LoggedModels(objects)
        self.writer = RunWriter(client, self.cache, objects, self.history)
        self.counts = RunCounts(client, self.cache)
        self.watch(client, (EXPERIMENT, RUN), self.cache, namespaces)

    def start(self, timeout: float = 60.0) -> None:
        super().start(timeout)
        self.counts.start()

    def close(self) -> None:
        self.counts.stop()
        super().close()
        self.history.close()

    def _load_extra(self, namespace: str, experiment_id: str, run_id: str, name: str) -> Extra:
        try:
            key = layout.run_prefix(namespace, experiment_id, run_id) + name
            return extra_from_json(name, self.objects.get(key))
        except (ObjectNotFound, MlflowError, ValueError) as err:
            log.warning("run %s: extra document %s unreadable: %s", run_id, name, err)
            return Extra(name)
