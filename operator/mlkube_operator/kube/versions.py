"""Model version numbers: 1, 2, 3... per registered model, never twice, no gaps from retries.

``assign_version`` is the only writer of ``RegisteredModel.status.latestVersion``,
``RegisteredModel.status.versionClaims`` and ``ModelVersion.status.version`` (docs/architecture.md).
A number is claimed on the RegisteredModel's status (``latestVersion`` and ``versionClaims``, keyed
by the ModelVersion's uid) with a compare-and-swap on its resourceVersion, retried on 409. The
claim is idempotent: the tracking server (which needs the number in its answer) and the operator
(for ModelVersions applied with kubectl) may both ask for the same ModelVersion and get the same
number.
"""

from __future__ import annotations

from typing import Any

from mlkube.api.kinds import MODEL_VERSION, REGISTERED_MODEL
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


def assign_version(
    kube: KubeClient, namespace: str, model: str, version: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Claim ``version``'s number on ``model`` and write it to the ModelVersion's status.version.

    ``version`` is the ModelVersion object as last seen; the object returned carries the number
    (it is ``version`` itself when the number was already written). Raises NotFound when the
    RegisteredModel or the ModelVersion does not exist.
    """
    meta = version["metadata"]
    number = claim_version(kube, namespace, model, meta["uid"])
    if (version.get("status") or {}).get("version") == number:
        return number, version
    patched = kube.patch(
        MODEL_VERSION, namespace, meta["name"], {"status": {"version": number}}, status=True
    )
    return number, patched
