"""The API server as the tracking server's guard sees it (auth/guard.py's TokenReview and
SubjectAccessReview): who each token is, what RBAC grants; and the headers of a request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

POD_TOKEN = "pod-token"  # audience mlkube, as run pods get
USER_TOKEN = "user-token"  # the API server's audience, as `kubectl create token` gives


class FakeKube:
    """The API server's answers: which token is whose, and which (user, verb, resource,
    namespace) RBAC allows; it counts the reviews it was asked for."""

    def __init__(self) -> None:
        self.tokens: dict[str, tuple[str | None, str]] = {
            POD_TOKEN: ("mlkube", "system:serviceaccount:a:mlkube-run"),
            USER_TOKEN: (None, "system:serviceaccount:a:alice"),
        }
        self.grants: set[tuple[str, str, str, str]] = set()
        self.token_reviews = 0
        self.access_reviews = 0

    def review_token(self, token: str, audiences: Sequence[str] | None) -> dict[str, Any]:
        self.token_reviews += 1
        audience, user = self.tokens.get(token, ("nobody", ""))
        wanted = list(audiences) if audiences else [None]
        if audience not in wanted:
            return {"authenticated": False, "error": "token not valid for these audiences"}
        return {"authenticated": True, "user": {"username": user, "groups": ["sa"]}}

    def review_access(self, spec: dict[str, Any]) -> dict[str, Any]:
        self.access_reviews += 1
        attrs = spec["resourceAttributes"]
        assert attrs["group"] == "mlkube.io"
        key = (spec["user"], attrs["verb"], attrs["resource"], attrs["namespace"])
        return {"allowed": key in self.grants}

    def list_namespaces(self) -> list[dict[str, Any]]:
        return [{"metadata": {"name": n}} for n in ("a", "b", "kube-system")]


def bearer(token: str, workspace: str = "a") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-MLFLOW-WORKSPACE": workspace}


def allow(kube: FakeKube, user: str, namespace: str, *needs: tuple[str, str]) -> None:
    for verb, resource in needs:
        kube.grants.add((f"system:serviceaccount:a:{user}", verb, resource, namespace))
