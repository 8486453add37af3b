"""Allocating MLflow experiment ids that are unique across every namespace.

MLflow ids are numeric strings, and the mlflow-artifacts URIs clients keep
(``mlflow-artifacts:/<experimentId>/...``) hold them, so an id must never be handed out twice.
The next free id lives in one well-known ConfigMap (``mlkube-experiment-ids``, key ``next``) in
the server's id namespace. Allocation is a compare-and-swap on its resourceVersion: read
``next``, write ``next + 1`` only if nobody wrote in between (409 otherwise: read again). Any
number of server replicas can allocate concurrently without a lock service.

Safety net: the allocator never returns an id at or below the highest id any Experiment in the
cluster carries (the watch-fed cache knows them all), so a lost or reset ConfigMap cannot make it
reuse a live id. ``0`` is never allocated: it is each namespace's Default experiment.
"""

from __future__ import annotations

from collections.abc import Callable

from mlkube_operator.kube import AlreadyExists, Conflict, KubeClient, NotFound
from mlkube_operator.server.errors import ErrorCode, MlflowError

CONFIG_MAP = "mlkube-experiment-ids"
ATTEMPTS = 50


class ExperimentIds:
    def __init__(self, client: KubeClient, namespace: str, highest_known: Callable[[], int]):
        self.client = client
        self.namespace = namespace
        self.highest_known = highest_known

    def allocate(self) -> str:
        for _ in range(ATTEMPTS):
            try:
                data, version = self.client.get_config_map(self.namespace, CONFIG_MAP)
            except NotFound:
                data, version = {}, None
            try:
                stored = int(data.get("next", "1"))
            except ValueError:
                stored = 1
            value = max(stored, self.highest_known() + 1, 1)
            try:
                self.client.put_config_map(
                    self.namespace, CONFIG_MAP, {"next": str(value + 1)}, version
                )
            except (Conflict, AlreadyExists):
                continue  # another allocation won the race: read again
            return str(value)
        raise MlflowError(
            ErrorCode.TEMPORARILY_UNAVAILABLE,
            "could not allocate an experiment id: too many concurrent creations; retry",
        )
