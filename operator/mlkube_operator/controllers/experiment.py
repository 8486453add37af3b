"""Experiment controller: gives each Experiment its id and artifact location.

Only an Experiment that lacks its id or whose artifact location is not what its spec implies
reaches the handlers (a ``when=`` filter): the tracking server's writes do not cost a request
each. Run counts are the tracking server's (its cache holds every Run and its phase; see
docs/architecture.md), so the operator does not watch tracking-only Runs at all.
"""

from __future__ import annotations

from typing import Any

import kopf

from mlkube import layout
from mlkube.api.kinds import EXPERIMENT
from mlkube_operator import metrics
from mlkube_operator.controllers.context import Context
from mlkube_operator.kube.errors import NotFound
from mlkube_operator.kube.ids import ensure_experiment_id


def artifact_location(experiment_id: str, spec: dict[str, Any]) -> str:
    """The experiment's spec.artifactLocation, else the tracking server's artifact proxy
    (``mlkube.layout``, the one place that says where artifacts are)."""
    return layout.experiment_artifact_location(experiment_id, spec.get("artifactLocation") or None)


def reconcile_identity(ctx: Context, namespace: str, name: str) -> None:
    """Assign the id (once) and the artifact location."""
    with ctx.locks.hold(f"experiment/{namespace}/{name}"), metrics.reconciling("Experiment"):
        try:
            experiment_id = ensure_experiment_id(
                ctx.kube, ctx.settings.id_namespace, namespace, name
            )
            obj = ctx.kube.get(EXPERIMENT, namespace, name)
        except NotFound:
            return
        status = obj.get("status") or {}
        location = artifact_location(experiment_id, obj.get("spec") or {})
        if status.get("artifactLocation") != location:
            ctx.kube.patch(
                EXPERIMENT, namespace, name, {"status": {"artifactLocation": location}}, status=True
            )


def needs_identity(spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta, **_: Any) -> bool:
    """No id yet, or a status.artifactLocation that is not the one the id and spec imply."""
    if meta.get("deletionTimestamp"):
        return False
    experiment_id = status.get("experimentId")
    if not experiment_id:
        return True
    return status.get("artifactLocation") != artifact_location(str(experiment_id), dict(spec))


@kopf.on.event(EXPERIMENT.group, EXPERIMENT.version, EXPERIMENT.plural, when=needs_identity)
def experiment_event(
    type: str, namespace: str | None, name: str, memo: kopf.Memo, **_: Any
) -> None:
    if type != "DELETED" and namespace is not None:
        reconcile_identity(memo["ctx"], namespace, name)


@kopf.timer(
    EXPERIMENT.group,
    EXPERIMENT.version,
    EXPERIMENT.plural,
    interval=10,
    initial_delay=10,
    when=needs_identity,
)
def experiment_identity_retry(namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    """Retries an identity the event handler could not give (Kopf does not retry those)."""
    if namespace is not None:
        reconcile_identity(memo["ctx"], namespace, name)
