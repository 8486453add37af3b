"""Model version numbers: 1, 2, 3... per registered model, never twice, no gaps from retries.

A number is claimed on the RegisteredModel's status (``latestVersion`` and ``versionClaims``, keyed
by the ModelVersion's uid) with a compare-and-swap on its resourceVersion, retried on 409. The
claim is idempotent: the tracking server (which needs the number in its answer) and the operator
(for ModelVersions applied with kubectl) may both ask for the same ModelVersion and get the same
number.
"""

from __future__ import annotations

from mlkube.api.kinds import REGISTERED_MODEL
from mlkube_operator.kube.client import KubeClient
from mlkube_operator.kube.errors import Conflict

ATTEMPTS = 100


class VersionAllocationError(RuntimeError):
    pass


def claim_version(kube: KubeClient, namespace: str, model: str, version_uid: str) -> int:
    """The version number of ModelVersion ``version_uid`` of ``model``, claiming it if needed.

    Raises NotFound when the RegisteredModel does not exist.
    """
    for _ in range(ATTEMPTS):
        obj = kube.get(REGISTERED_MODEL, namespace, model)
        status = obj.get("status") or {}
        claims = dict(status.get("versionClaims") or {})
        if version_uid in claims:
            return int(claims[version_uid])
        number = int(status.get("latestVersion") or 0) + 1
        patch = {
            "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
            "status": {"latestVersion": number, "versionClaims": {version_uid: number}},
        }
        try:
            kube.patch(REGISTERED_MODEL, namespace, model, patch, status=True)
        except Conflict:
            continue
        return number
    raise VersionAllocationError(
        f"could not claim a version of {namespace}/{model} after {ATTEMPTS} tries"
    )
