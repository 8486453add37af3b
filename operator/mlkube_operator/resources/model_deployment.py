"""The objects that serve a ModelDeployment: pure functions of its spec and resolved versions.

Each deployment has a stable track and, with ``spec.canary``, a canary track: two Deployments of
`mlkube serve` pods behind one Service. Without a service mesh, the Service spreads connections
evenly over ready pods, so the canary's share of traffic is its share of pods: ``replica_split``
picks the fewest pods (at least ``spec.replicas``) whose ratio is closest to ``trafficPercent``.

Serving pods load the registry copy, ``mlflow-artifacts:/models/<model>/<version>``, through the
tracking server's artifact proxy as ServiceAccount ``mlkube-serving`` with its projected token:
they hold no object-store credential and no Kubernetes API token (issue 13).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from mlkube import layout
from mlkube.api.model_deployment import ModelDeployment
from mlkube_operator.resources.identity import (
    SERVING_SERVICE_ACCOUNT,
    token_env,
    token_mount,
    token_volume,
)
from mlkube_operator.resources.render import render
from mlkube_operator.resources.run import CONTAINER_SECURITY, MLKUBE_UID

SERVICE_PORT = 80
# Most pods a canary split may ask for, whatever the percentage.
MAX_SPLIT_PODS = 10


@dataclass(frozen=True)
class ServingSettings:
    image: str
    tracking_uri: str


@dataclass(frozen=True)
class Track:
    """One resolved model version to serve, on the stable or the canary track."""

    name: str  # "stable" or "canary"
    model: str  # the RegisteredModel's name
    version: int
    replicas: int | None  # None: an autoscaler owns the count


def replica_split(replicas: int, percent: int) -> tuple[int, int]:
    """(stable, canary) pod counts: canary/(stable+canary) as near ``percent`` as
    MAX_SPLIT_PODS allows, with at least ``replicas`` pods in all and one of each."""
    if percent <= 0:
        return max(replicas, 1), 0
    if percent >= 100:
        return 0, max(replicas, 1)
    share = Fraction(percent, 100).limit_denominator(MAX_SPLIT_PODS)
    share = min(
        max(share, Fraction(1, MAX_SPLIT_PODS)), Fraction(MAX_SPLIT_PODS - 1, MAX_SPLIT_PODS)
    )
    total = share.denominator
    while total < replicas:
        total += share.denominator
    canary = int(share * total)
    return total - canary, canary


def names(deployment: str) -> dict[str, str]:
    return {
        "service": deployment,
        "stable": f"{deployment}-stable",
        "canary": f"{deployment}-canary",
        "hpa": deployment,
        "policy": deployment,
    }


def _common(md: ModelDeployment) -> dict[str, Any]:
    return {
        "namespace": md.metadata.namespace,
        "owner_name": md.metadata.name,
        "owner_uid": md.metadata.uid,
    }


def build_deployment(
    md: ModelDeployment, track: Track, settings: ServingSettings
) -> dict[str, Any]:
    spec = md.spec
    server = spec.server
    selector = {layout.DEPLOYMENT_LABEL: md.metadata.name, layout.TRACK_LABEL: track.name}
    labels = {**layout.MANAGED_BY, **selector}
    env: list[dict[str, Any]] = [
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "MLFLOW_TRACKING_URI", "value": settings.tracking_uri},
        {"name": "MLFLOW_WORKSPACE", "value": md.metadata.namespace},
        token_env(),
        *(e.to_wire() for e in spec.env),
    ]
    args = [
        layout.ARTIFACTS_ROOT + layout.registry_path(track.model, track.version),
        # The pod's own address: the same on any cluster, and loopback on the local stack.
        "--host=$(POD_IP)",
        f"--port={server.port}",
        f"--workers={server.workers}",
        # Keep answering for a moment after SIGTERM while /health says 503, so the Service
        # stops sending new requests before the server stops taking them.
        "--shutdown-delay=3",
    ]
    return render(
        "serving-deployment.yaml.j2",
        **_common(md),
        name=names(md.metadata.name)[track.name],
        labels=labels,
        annotations={layout.MODEL_LABEL: spec.model.name, layout.VERSION_LABEL: str(track.version)},
        selector=selector,
        pod_labels={**labels, layout.VERSION_LABEL: str(track.version)},
        replicas=track.replicas,
        image=server.image or settings.image,
        args=args,
        env=env,
        port=server.port,
        resources=spec.resources.to_wire() if spec.resources else None,
        uid=MLKUBE_UID,
        container_security=CONTAINER_SECURITY,
        service_account=SERVING_SERVICE_ACCOUNT,
        token_volume=token_volume(),
        token_mount=token_mount(),
    )


def build_service(md: ModelDeployment) -> dict[str, Any]:
    selector = {layout.DEPLOYMENT_LABEL: md.metadata.name}
    return render(
        "serving-service.yaml.j2",
        **_common(md),
        name=names(md.metadata.name)["service"],
        labels={**layout.MANAGED_BY, **selector},
        selector=selector,
        service_port=SERVICE_PORT,
    )


def build_network_policy(md: ModelDeployment) -> dict[str, Any]:
    """Both tracks' pods take connections on the model's port only (issue 13)."""
    selector = {layout.DEPLOYMENT_LABEL: md.metadata.name}
    return render(
        "serving-networkpolicy.yaml.j2",
        **_common(md),
        name=names(md.metadata.name)["policy"],
        labels={**layout.MANAGED_BY, **selector},
        selector=selector,
        port=md.spec.server.port,
    )


def build_autoscaler(md: ModelDeployment) -> dict[str, Any] | None:
    if md.spec.autoscaling is None:
        return None
    return render(
        "serving-hpa.yaml.j2",
        **_common(md),
        name=names(md.metadata.name)["hpa"],
        labels={**layout.MANAGED_BY, layout.DEPLOYMENT_LABEL: md.metadata.name},
        target=names(md.metadata.name)["stable"],
        autoscaling=md.spec.autoscaling,
    )


def service_url(cluster_ip: str | None, md: ModelDeployment) -> str:
    """The Service's URL by ClusterIP: it answers from any pod, and on the local stack also from
    the host, where cluster DNS names do not resolve."""
    host = cluster_ip or f"{names(md.metadata.name)['service']}.{md.metadata.namespace}.svc"
    return f"http://{host}:{SERVICE_PORT}"
