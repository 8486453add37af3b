"""The identities of the pods mlkube makes in users' namespaces (issue 13): a ServiceAccount
and a RoleBinding to a ClusterRole that the chart ships, per namespace and per kind of pod.

Run pods are ``mlkube-run`` (what a Run's own code may do through the tracking server in its
namespace); serving pods are ``mlkube-serving`` (read registered models and versions). Their
tokens are projected with audience ``mlkube.auth.TOKEN_AUDIENCE``: the tracking server accepts
them, the Kubernetes API does not, and the RoleBinding names rights only on mlkube.io resources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlkube import layout
from mlkube.auth import TOKEN_AUDIENCE, TOKEN_DIR, TOKEN_FILE, TOKEN_FILE_ENV

RUN_SERVICE_ACCOUNT = "mlkube-run"
SERVING_SERVICE_ACCOUNT = "mlkube-serving"
TOKEN_VOLUME = "mlkube-token"
# The kubelet refreshes the file at 80% of this; the API server's minimum is 600.
TOKEN_SECONDS = 3600


@dataclass(frozen=True)
class Identity:
    """A ServiceAccount and the ClusterRole its RoleBinding (of the same name) grants."""

    name: str
    cluster_role: str


def build_service_account(identity: Identity) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": identity.name, "labels": dict(layout.MANAGED_BY)},
        # Pods mount the projected, audience-bound token instead (token_volume).
        "automountServiceAccountToken": False,
    }


def build_role_binding(identity: Identity, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": identity.name, "labels": dict(layout.MANAGED_BY)},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": identity.cluster_role,
        },
        "subjects": [{"kind": "ServiceAccount", "name": identity.name, "namespace": namespace}],
    }


def token_volume() -> dict[str, Any]:
    """The pod's projected volume holding only its tracking-server token."""
    source = {"audience": TOKEN_AUDIENCE, "expirationSeconds": TOKEN_SECONDS, "path": "token"}
    return {"name": TOKEN_VOLUME, "projected": {"sources": [{"serviceAccountToken": source}]}}


def token_mount() -> dict[str, Any]:
    return {"name": TOKEN_VOLUME, "mountPath": TOKEN_DIR, "readOnly": True}


def token_env() -> dict[str, Any]:
    return {"name": TOKEN_FILE_ENV, "value": TOKEN_FILE}
