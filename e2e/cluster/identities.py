"""Who the tests and `make up`'s user are to the tracking server: ServiceAccounts and tokens.

The tracking server authenticates every request with TokenReview and authorises it with RBAC
(issue 13), so a client needs a token the cluster accepts. ``local_user_token`` is the local user's:
a ServiceAccount bound to a ClusterRole over mlkube's resources in every namespace (what an
administrator of the local cluster holds). Tests of tenancy make narrower ones with
``namespaced_editor``.
"""

from __future__ import annotations

import json
import os

from e2e.cluster.cluster import LocalCluster

TESTER = "mlkube-tester"
TESTER_NAMESPACE = "default"
# mlkube's resources, including the virtual `loggedmodels` the server authorises (auth/needs.py).
MLKUBE_RESOURCES = [
    "experiments",
    "runs",
    "loggedmodels",
    "registeredmodels",
    "modelversions",
    "modeldeployments",
    "sweeps",
]
EDIT_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]


def _apply(cluster: LocalCluster, *objects: dict[str, object]) -> None:
    document = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
    cluster.kubectl("apply", "-f", "-", stdin=document)


def token(cluster: LocalCluster, namespace: str, account: str, audience: str | None = None) -> str:
    """A TokenRequest for the ServiceAccount (for the API server's audiences unless given)."""
    args = ["create", "token", account, "-n", namespace, "--duration=24h"]
    if audience:
        args.append(f"--audience={audience}")
    return cluster.kubectl(*args).strip()


def service_account(namespace: str, name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace},
    }


def local_user_token(cluster: LocalCluster) -> str:
    """The local user's token: every verb on mlkube's resources in every namespace."""
    saved = cluster.state / "tester-token"
    if saved.exists():
        return saved.read_text().strip()
    _apply(
        cluster,
        service_account(TESTER_NAMESPACE, TESTER),
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": TESTER},
            "rules": [
                {"apiGroups": ["mlkube.io"], "resources": MLKUBE_RESOURCES, "verbs": EDIT_VERBS}
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": TESTER},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": TESTER,
            },
            "subjects": [{"kind": "ServiceAccount", "name": TESTER, "namespace": TESTER_NAMESPACE}],
        },
    )
    value = token(cluster, TESTER_NAMESPACE, TESTER)
    saved.write_text(value)
    return value


def namespaced_editor(cluster: LocalCluster, namespace: str, account: str) -> str:
    """A ServiceAccount in ``namespace`` with an edit Role on mlkube's resources there only;
    returns its token (API audience, as `kubectl create token` gives a user)."""
    _apply(
        cluster,
        service_account(namespace, account),
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": f"{account}-mlkube-edit", "namespace": namespace},
            "rules": [
                {"apiGroups": ["mlkube.io"], "resources": MLKUBE_RESOURCES, "verbs": EDIT_VERBS}
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": f"{account}-mlkube-edit", "namespace": namespace},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": f"{account}-mlkube-edit",
            },
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
        },
    )
    return token(cluster, namespace, account)


def auth_headers() -> dict[str, str]:
    """The session's Authorization header for raw HTTP clients (the mlflow client reads
    MLFLOW_TRACKING_TOKEN itself)."""
    value = os.environ.get("MLFLOW_TRACKING_TOKEN")
    return {"Authorization": f"Bearer {value}"} if value else {}
