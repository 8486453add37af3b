"""Experiment ids, unique across namespaces: one allocator shared by the server and the operator.

MLflow experiment ids are numeric strings, and the mlflow-artifacts URIs clients keep
(``mlflow-artifacts:/<experimentId>/...``) hold them, so an id must never be handed out twice.
The next free id lives in one well-known ConfigMap (``mlkube-experiment-ids``, key ``next``) in
the id namespace. Allocation is a compare-and-swap on its resourceVersion: read ``next``, write
``next + 1`` only if nobody wrote in between (409 otherwise: read again), so any number of server
replicas and the operator allocate concurrently without a lock service. ``0`` is never
allocated: it is each namespace's Default experiment (the Experiment named ``default``).

An id is assigned to an Experiment the same way (its status is patched only if its
resourceVersion has not moved), so an Experiment never gets two ids; a lost race leaves a gap in
the sequence, never a duplicate.
"""

from __future__ import annotations

from mlkube.api.kinds import EXPERIMENT
from mlkube_operator.kube.client import KubeClient
from mlkube_operator.kube.errors import AlreadyExists, Conflict, NotFound

CONFIG_MAP = "mlkube-experiment-ids"
DEFAULT_EXPERIMENT = "default"
DEFAULT_EXPERIMENT_ID = "0"
ATTEMPTS = 50


class IdAllocationError(RuntimeError):
    """Too many concurrent allocations: the caller should retry later."""


def allocate_experiment_id(kube: KubeClient, namespace: str, floor: int = 1) -> str:
    """The next free experiment id (never below ``floor``) from the counter in ``namespace``."""
    for _ in range(ATTEMPTS):
        try:
            data, version = kube.get_config_map(namespace, CONFIG_MAP)
        except NotFound:
            data, version = {}, None
        try:
            stored = int(data.get("next", "1"))
        except ValueError:
            stored = 1
        value = max(stored, floor, 1)
        try:
            kube.put_config_map(namespace, CONFIG_MAP, {"next": str(value + 1)}, version)
        except (Conflict, AlreadyExists):
            continue  # another allocation won the race: read again
        return str(value)
    raise IdAllocationError(
        f"could not allocate an experiment id in {namespace}/{CONFIG_MAP} after {ATTEMPTS} tries"
    )


def ensure_experiment_id(
    kube: KubeClient, id_namespace: str, namespace: str, name: str, *, floor: int = 1
) -> str:
    """The Experiment's id, assigning one (exactly once) when it has none yet.

    The only writer of ``Experiment.status.experimentId`` (docs/architecture.md): the operator
    and every tracking-server replica call it. ``floor``: no id at or below it is allocated.
    """
    for _ in range(ATTEMPTS):
        obj = kube.get(EXPERIMENT, namespace, name)
        current = (obj.get("status") or {}).get("experimentId")
        if current:
            return str(current)
        new = (
            DEFAULT_EXPERIMENT_ID
            if name == DEFAULT_EXPERIMENT
            else allocate_experiment_id(kube, id_namespace, floor)
        )
        patch = {
            "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
            "status": {"experimentId": new},
        }
        try:
            kube.patch(EXPERIMENT, namespace, name, patch, status=True)
        except Conflict:
            continue
        return new
    raise IdAllocationError(f"could not assign an id to experiment {namespace}/{name}")
