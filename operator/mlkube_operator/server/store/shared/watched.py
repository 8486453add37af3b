"""The informer lifecycle of a Kubernetes store: start watching its kinds, wait until the cache
holds every object, stop."""

from __future__ import annotations

import time
from collections.abc import Iterable

from mlkube.api.kinds import Kind
from mlkube_operator.kube import Informer, KubeClient
from mlkube_operator.kube.informer import InformerHandler


class WatchedStore:
    """Base of the stores that read from a watch-fed cache (``shared/cache.py``)."""

    informers: list[Informer]

    def watch(self, client: KubeClient, kinds: Iterable[Kind], cache: InformerHandler) -> None:
        """Set up (not start) one cluster-wide informer per kind, all feeding ``cache``."""
        self.informers = [Informer(client, kind, cache) for kind in kinds]

    def start(self, timeout: float = 60.0) -> None:
        """Start watching; return once the cache holds every object of the watched kinds."""
        for informer in self.informers:
            informer.start()
        deadline = time.monotonic() + timeout
        for informer in self.informers:
            if not informer.wait_synced(max(0.0, deadline - time.monotonic())):
                raise RuntimeError(f"could not list {informer.kind.plural} within {timeout}s")

    def close(self) -> None:
        for informer in self.informers:
            informer.stop()
