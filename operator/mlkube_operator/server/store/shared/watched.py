"""The informer lifecycle of a Kubernetes store: start watching its kinds, wait until the cache
holds every object, stop."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from mlkube.api.kinds import Kind
from mlkube_operator.kube import Informer, KubeClient
from mlkube_operator.kube.informer import InformerHandler


class WatchedStore:
    """Base of the stores that read from a watch-fed cache (``shared/cache.py``)."""

    informers: list[Informer]

    def watch(
        self,
        client: KubeClient,
        kinds: Iterable[Kind],
        cache: InformerHandler,
        namespaces: Sequence[str] = (),
    ) -> None:
        """Set up (not start) the informers feeding ``cache``: one per kind, cluster-wide; or,
        given ``namespaces``, one per kind and namespace (the server's rights may be Roles in
        those namespaces only: MLKUBE_WATCH_NAMESPACES, server/served.py)."""
        scopes: list[str | None] = [*namespaces] or [None]
        self.informers = [
            Informer(client, kind, cache, namespace) for kind in kinds for namespace in scopes
        ]

    def start(self, timeout: float = 60.0) -> None:
        """Start watching; return once the cache holds every object of the watched kinds."""
        for informer in self.informers:
            informer.start()
        deadline = time.monotonic() + timeout
        for informer in self.informers:
            if not informer.wait_synced(max(0.0, deadline - time.monotonic())):
                where = f" in {informer.namespace}" if informer.namespace else ""
                raise RuntimeError(
                    f"could not list {informer.kind.plural}{where} within {timeout}s"
                )

    def close(self) -> None:
        for informer in self.informers:
            informer.stop()
