"""What every part of the Kubernetes tracking store holds, and how a write to a run is queued."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlkube.objects import ObjectStore
from mlkube_operator.kube import KubeClient
from mlkube_operator.server.store.tracking.base import TrackingStore
from mlkube_operator.server.store.tracking.kube.cache import TrackingCache
from mlkube_operator.server.store.tracking.kube.drafts import RunDraft
from mlkube_operator.server.store.tracking.kube.history import MetricHistory
from mlkube_operator.server.store.tracking.kube.models import LoggedModels
from mlkube_operator.server.store.tracking.kube.run_writer import RunWriter


class KubeParts(TrackingStore):
    """The state the aggregates (experiments.py, runs.py, logged_models.py) share."""

    client: KubeClient
    objects: ObjectStore
    id_namespace: str
    cache: TrackingCache
    history: MetricHistory
    models: LoggedModels
    writer: RunWriter

    def _submit(self, workspace: str, name: str, apply: Callable[[RunDraft], Any]) -> Any:
        """Queue ``apply`` for the Run named ``name``; returns once the write is durable."""
        return self.writer.submit(workspace, name, apply)
