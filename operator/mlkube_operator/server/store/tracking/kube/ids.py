"""Allocating MLflow experiment ids for the server: the shared allocator (mlkube_operator.kube.ids)
plus a safety net. The allocator never returns an id at or below the highest id any Experiment in
the cluster carries (the watch-fed cache knows them all), so a lost or reset ConfigMap cannot make
it reuse a live id.
"""

from __future__ import annotations

from collections.abc import Callable

from mlkube_operator.kube import KubeClient
from mlkube_operator.kube.ids import IdAllocationError, allocate_experiment_id
from mlkube_operator.server.errors import ErrorCode, MlflowError


class ExperimentIds:
    def __init__(self, client: KubeClient, namespace: str, highest_known: Callable[[], int]):
        self.client = client
        self.namespace = namespace
        self.highest_known = highest_known

    def allocate(self) -> str:
        try:
            return allocate_experiment_id(
                self.client, self.namespace, floor=self.highest_known() + 1
            )
        except IdAllocationError:
            raise MlflowError(
                ErrorCode.TEMPORARILY_UNAVAILABLE,
                "could not allocate an experiment id: too many concurrent creations; retry",
            ) from None
