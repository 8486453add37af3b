"""ModelDeployment controller: resolve the model reference, run the serving objects, report.

Level-triggered: events of a ModelDeployment, of its Deployments, and of the RegisteredModel and
ModelVersions it names (an alias or a stage moving) all call ``reconcile``. A reference that does
not resolve to a Ready version sets phase Failed with a message and leaves the serving objects as
they are, so what was served goes on being served.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import kopf

from mlkube.api import ModelDeployment, SpecError, parse
from mlkube.api.common import ConditionStatus
from mlkube.api.kinds import MODEL_DEPLOYMENT, MODEL_VERSION, REGISTERED_MODEL
from mlkube.api.model_deployment import DeploymentPhase, ModelRef
from mlkube.layout import DEPLOYMENT_LABEL, VERSION_LABEL
from mlkube_operator import metrics
from mlkube_operator.controllers.context import Context, body_of, now, ready_condition
from mlkube_operator.controllers.indexes import Indexes
from mlkube_operator.kube.errors import NotFound
from mlkube_operator.resources.model_deployment import (
    ServingSettings,
    Track,
    build_autoscaler,
    build_deployment,
    build_network_policy,
    build_service,
    names,
    replica_split,
    service_url,
)


class Unresolved(Exception):
    """The model reference names no Ready version; the message says why."""


@dataclass(frozen=True)
class Resolved:
    model: str
    version: int


def describe(ref: ModelRef) -> str:
    if ref.version is not None:
        return f"{ref.name} version {ref.version}"
    if ref.alias is not None:
        return f"{ref.name}@{ref.alias}"
    return f"{ref.name} in stage {ref.stage}"


def _wanted(ref: ModelRef, aliases: dict[str, Any], by_number: dict[int, dict[str, Any]]) -> int:
    """The version number ``ref`` names: its version, its alias's, or its stage's newest."""
    if ref.alias is not None:
        if ref.alias not in aliases:
            known = ", ".join(sorted(aliases)) or "none"
            raise Unresolved(f"model {ref.name!r} has no alias {ref.alias!r} (aliases: {known})")
        return int(aliases[ref.alias])
    if ref.stage is not None:
        staged = [
            n for n, v in by_number.items() if v.get("stage") == ref.stage and v["phase"] == "Ready"
        ]
        if not staged:
            raise Unresolved(f"model {ref.name!r} has no Ready version in stage {ref.stage}")
        return max(staged)
    assert ref.version is not None
    return ref.version


def resolve(
    model: dict[str, Any] | None, versions: list[dict[str, Any]], namespace: str, ref: ModelRef
) -> Resolved:
    """The Ready ModelVersion that ``ref`` names now, given the RegisteredModel (None: it does
    not exist) and its versions, as the indexes hold them (controllers/indexes.py)."""
    if model is None:
        raise Unresolved(f"RegisteredModel {ref.name!r} does not exist in {namespace}")
    by_number = {int(v["version"]): v for v in versions if v.get("version")}
    wanted = _wanted(ref, model.get("aliases") or {}, by_number)
    found = by_number.get(wanted)
    if found is None:
        raise Unresolved(f"model {ref.name!r} has no version {wanted}")
    if found.get("phase") != "Ready":
        why = f": {found['message']}" if found.get("message") else ""
        raise Unresolved(
            f"version {wanted} of {ref.name!r} is {found.get('phase') or 'not registered'}{why}"
        )
    return Resolved(ref.name, wanted)


def resolve_in(indexes: Indexes, namespace: str, ref: ModelRef) -> Resolved:
    return resolve(
        indexes.model(namespace, ref.name), indexes.versions_of(namespace, ref.name), namespace, ref
    )


class DeploymentReconciler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        s = ctx.settings
        self.serving = ServingSettings(s.serving_image, s.tracking_uri)

    def reconcile(self, indexes: Indexes, namespace: str, name: str) -> None:
        with (
            self.ctx.locks.hold(f"md/{namespace}/{name}"),
            metrics.reconciling("ModelDeployment"),
        ):
            self._reconcile(indexes, namespace, name)

    def _reconcile(self, indexes: Indexes, namespace: str, name: str) -> None:
        try:
            obj = self.ctx.kube.get(MODEL_DEPLOYMENT, namespace, name)
        except NotFound:
            return
        if obj["metadata"].get("deletionTimestamp"):
            return
        try:
            md = parse(ModelDeployment, obj)
        except SpecError as err:
            self._status(obj, DeploymentPhase.FAILED, "InvalidSpec", "; ".join(err.problems))
            return
        spec = md.spec
        try:
            stable = resolve_in(indexes, namespace, spec.model)
            canary = resolve_in(indexes, namespace, spec.canary.model) if spec.canary else None
        except Unresolved as err:
            self._status(
                obj,
                DeploymentPhase.FAILED,
                "ModelUnresolved",
                f"{err}; still serving what was served before",
            )
            return
        self.ctx.ensure_identity(namespace, self.ctx.serving_identity())
        if canary is not None and spec.canary is not None:
            stable_pods, canary_pods = replica_split(spec.replicas, spec.canary.traffic_percent)
        else:
            stable_pods, canary_pods = spec.replicas, 0
        kube = self.ctx.kube
        tracks = [
            Track("stable", stable.model, stable.version, None if spec.autoscaling else stable_pods)
        ]
        if canary is not None:
            tracks.append(Track("canary", canary.model, canary.version, canary_pods))
        for track in tracks:
            kube.apply_deployment(build_deployment(md, track, self.serving))
        if canary is None:
            with contextlib.suppress(NotFound):
                kube.delete_deployment(namespace, names(name)["canary"])
        service = kube.apply_service(build_service(md))
        kube.apply_network_policy(build_network_policy(md))
        autoscaler = build_autoscaler(md)
        if autoscaler is not None:
            kube.apply_autoscaler(autoscaler)
        else:
            with contextlib.suppress(NotFound):
                kube.delete_autoscaler(namespace, names(name)["hpa"])
        cluster_ip = (service.get("spec") or {}).get("clusterIP")
        self._observe(obj, md, stable, canary, service_url(cluster_ip, md))

    def _observe(
        self,
        obj: dict[str, Any],
        md: ModelDeployment,
        stable: Resolved,
        canary: Resolved | None,
        url: str,
    ) -> None:
        """Phase and versions from the Deployments' rollout state."""
        namespace, name = md.metadata.namespace or "default", md.metadata.name
        ready = 0
        done = True
        for track, wanted in (("stable", stable), ("canary", canary)):
            if wanted is None:
                continue
            deployment = self.ctx.kube.get_deployment(namespace, names(name)[track])
            dstatus = deployment.get("status") or {}
            desired = (deployment.get("spec") or {}).get("replicas", 1)
            ready += int(dstatus.get("readyReplicas") or 0)
            done = done and (
                dstatus.get("observedGeneration", 0) >= deployment["metadata"]["generation"]
                and dstatus.get("updatedReplicas", 0) == desired
                and dstatus.get("availableReplicas", 0) == desired
                and not dstatus.get("unavailableReplicas")
            )
        previous = obj.get("status") or {}
        extra: dict[str, Any] = {
            "readyReplicas": ready,
            "url": url,
            "canaryVersion": canary.version if canary else None,
        }
        if done:
            extra["servedVersion"] = stable.version
            message = f"serving {md.spec.model.name} version {stable.version}" + (
                f", canary version {canary.version}" if canary else ""
            )
            self._status(obj, DeploymentPhase.READY, "Available", message, extra)
        else:
            served = previous.get("servedVersion")
            message = f"rolling out version {stable.version}" + (
                f" (serving version {served} meanwhile)" if served else ""
            )
            self._status(obj, DeploymentPhase.PROGRESSING, "RollingOut", message, extra)

    def _status(
        self,
        obj: dict[str, Any],
        phase: DeploymentPhase,
        reason: str,
        message: str,
        extra: dict[str, Any] | None = None,
    ) -> None:
        meta = obj["metadata"]
        previous = obj.get("status") or {}
        ready = ConditionStatus.TRUE if phase == DeploymentPhase.READY else ConditionStatus.FALSE
        new: dict[str, Any] = {
            "phase": phase.value,
            "message": message,
            "observedGeneration": meta.get("generation"),
            **(extra or {}),
        }
        if all(previous.get(k) == v for k, v in new.items()):
            return
        new["conditions"] = ready_condition(
            previous.get("conditions") or [], ready, reason, message, meta.get("generation"), now()
        )
        self.ctx.kube.patch(
            MODEL_DEPLOYMENT, meta["namespace"], meta["name"], {"status": new}, status=True
        )
        if previous.get("phase") != phase.value or previous.get("message") != message:
            kind = "Warning" if phase == DeploymentPhase.FAILED else "Normal"
            kopf.event(body_of(obj), type=kind, reason=reason, message=message[:1000])


# -- Kopf handlers --------------------------------------------------------------------------------


def _reconciler(memo: kopf.Memo) -> DeploymentReconciler:
    reconciler: DeploymentReconciler = memo["deployments"]
    return reconciler


@kopf.index(MODEL_DEPLOYMENT.group, MODEL_DEPLOYMENT.version, MODEL_DEPLOYMENT.plural)
async def deployments_by_model(
    namespace: str | None, name: str, spec: kopf.Spec, **_: Any
) -> dict[tuple[str | None, str], str]:
    """Which deployments name which model (stable or canary), so a moved alias finds them."""
    models = {(spec.get("model") or {}).get("name")}
    models.add(((spec.get("canary") or {}).get("model") or {}).get("name"))
    return {(namespace, m): name for m in models if m}


def _follow(namespace: str | None, model: str | None, memo: kopf.Memo, kwargs: Any) -> None:
    index: kopf.Index[tuple[str | None, str], str] = kwargs["deployments_by_model"]
    if namespace is None or not model:
        return
    for name in set(index.get((namespace, model), [])):
        _reconciler(memo).reconcile(Indexes.of(kwargs), namespace, name)


@kopf.on.event(MODEL_DEPLOYMENT.group, MODEL_DEPLOYMENT.version, MODEL_DEPLOYMENT.plural)
def deployment_event(
    type: str, namespace: str | None, name: str, memo: kopf.Memo, **kwargs: Any
) -> None:
    if type != "DELETED" and namespace is not None:
        _reconciler(memo).reconcile(Indexes.of(kwargs), namespace, name)


@kopf.on.event("apps", "v1", "deployments", labels={DEPLOYMENT_LABEL: kopf.PRESENT})
def serving_pods_changed(
    namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, **kwargs: Any
) -> None:
    if namespace is not None:
        _reconciler(memo).reconcile(Indexes.of(kwargs), namespace, labels[DEPLOYMENT_LABEL])


@kopf.on.event(REGISTERED_MODEL.group, REGISTERED_MODEL.version, REGISTERED_MODEL.plural)
def model_changed(namespace: str | None, name: str, memo: kopf.Memo, **kwargs: Any) -> None:
    """An alias may have moved."""
    _follow(namespace, name, memo, kwargs)


@kopf.on.event(MODEL_VERSION.group, MODEL_VERSION.version, MODEL_VERSION.plural)
def version_changed(namespace: str | None, spec: kopf.Spec, memo: kopf.Memo, **kwargs: Any) -> None:
    """A version may have become Ready or changed stage."""
    _follow(namespace, spec.get("model"), memo, kwargs)


__all__ = ["VERSION_LABEL", "DeploymentReconciler"]
