"""Which ModelDeployments serve a model version, as the read-only tag ``mlkube.deployments``
(``rules.DEPLOYMENTS_TAG``, issue 14): MLflow's UI shows a version's tags on its page, so the
people who look there see what Kubernetes serves, e.g.
``churn-api (stable, 90%, @champion), churn-api (canary, 10%)``.

A ModelDeployment of the version's namespace serves it

- on its stable track when ``spec.model`` names the version's model and ``status.servedVersion``
  is the version (the operator sets it once a rollout is done, and keeps it while the next one
  rolls out or the reference stops resolving: what runs is still served);
- on its canary track when ``spec.canary.model`` names the model and ``status.canaryVersion`` is
  the version.

The canary's share is ``spec.canary.trafficPercent``, stable has the rest. The reference a track
follows (an alias or a stage) is named, since that is what moves it to another version. Pure: the
store passes the deployments its watch-fed cache holds for the model.
"""

from __future__ import annotations

from collections.abc import Iterable

from mlkube.api.model_deployment import ModelDeployment, ModelRef

# A version served by more deployments names this many, then says how many more.
MAX_NAMED = 20


def _entry(deployment: str, track: str, percent: int, ref: ModelRef) -> str:
    follows = f", @{ref.alias}" if ref.alias else f", stage {ref.stage}" if ref.stage else ""
    return f"{deployment} ({track}, {percent}%{follows})"


def serving_tag(deployments: Iterable[ModelDeployment], model: str, version: int) -> str | None:
    """The tag's value for version ``version`` of the RegisteredModel ``model`` (its resource
    name), or None when no deployment serves it."""
    entries: list[str] = []
    for deployment in sorted(deployments, key=lambda d: d.metadata.name):
        spec, status, name = deployment.spec, deployment.status, deployment.metadata.name
        canary = spec.canary if status.canary_version is not None else None
        share = canary.traffic_percent if canary is not None else 0
        if spec.model.name == model and status.served_version == version:
            entries.append(_entry(name, "stable", 100 - share, spec.model))
        if canary is not None and canary.model.name == model and status.canary_version == version:
            entries.append(_entry(name, "canary", share, canary.model))
    if not entries:
        return None
    more = len(entries) - MAX_NAMED
    return ", ".join(entries[:MAX_NAMED]) + (f", and {more} more" if more > 0 else "")
