"""The guard at the door of every endpoint: authenticate the bearer token, authorise the need.

``KubernetesGuard`` asks the API server: a TokenReview for the token (first for the audiences of
pod tokens, ``mlkube``, then for the API server's own, so a kubectl user's token works too), a
SubjectAccessReview for (identity, verb, resource, namespace). Answers are remembered briefly:
an identity for ``token_ttl`` seconds, an access decision for ``access_ttl``, and a refusal for
``refused_ttl`` (so a flood of bad tokens costs one review each, not one per request). Tokens are
kept only as their SHA-256. ``SingleUser`` is ``--auth none``: no questions, one user.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mlkube_operator.kube import KubeClient
from mlkube_operator.server.auth.expiring import Expiring
from mlkube_operator.server.auth.needs import EXPERIMENTS, GROUP, Need, list_
from mlkube_operator.server.errors import ErrorCode, MlflowError
from mlkube_operator.server.metrics import DENIED

BEARER = "bearer "
TOKEN_HELP = (
    "send `Authorization: Bearer <token>` with a token this cluster accepts; for the mlflow "
    "client set MLFLOW_TRACKING_TOKEN, e.g. to $(kubectl create token <serviceaccount> "
    "--audience mlkube)"
)


@dataclass(frozen=True)
class Identity:
    """A user as the API server's TokenReview describes them."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def from_review(cls, user: dict[str, Any]) -> Identity:
        extra = user.get("extra") or {}
        return cls(
            username=str(user.get("username", "")),
            uid=str(user.get("uid", "")),
            groups=tuple(user.get("groups") or ()),
            extra=tuple(sorted((k, tuple(v)) for k, v in extra.items())),
        )

    def subject(self) -> dict[str, Any]:
        """The user fields of a SubjectAccessReview's spec."""
        return {
            "user": self.username,
            "uid": self.uid,
            "groups": list(self.groups),
            "extra": {key: list(values) for key, values in self.extra},
        }


def unauthenticated(why: str, need: Need | None) -> MlflowError:
    DENIED.labels("unauthenticated", need.verb if need else "", need.resource if need else "").inc()
    return MlflowError(ErrorCode.UNAUTHENTICATED, f"{why}; {TOKEN_HELP}")


def forbidden(identity: Identity, need: Need, namespace: str, reason: str) -> MlflowError:
    DENIED.labels("forbidden", need.verb, need.resource).inc()
    because = f" ({reason})" if reason else ""
    return MlflowError(
        ErrorCode.PERMISSION_DENIED,
        f"{identity.username} may not {need.verb} {need.resource}.{GROUP} in namespace "
        f"{namespace}{because}; ask an administrator of {namespace} for a RoleBinding that grants "
        "it (the chart's mlkube-edit and mlkube-view ClusterRoles hold mlkube's rights)",
    )


def bearer_of(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None for anything else."""
    if not authorization or authorization[: len(BEARER)].lower() != BEARER:
        return None
    return authorization[len(BEARER) :].strip() or None


def token_of(authorization: str | None, need: Need | None) -> str:
    if not authorization:
        raise unauthenticated("this server requires a bearer token and the request has none", need)
    token = bearer_of(authorization)
    if token is None:
        raise unauthenticated("the Authorization header is not `Bearer <token>`", need)
    return token


class Guard(ABC):
    @abstractmethod
    def admit_cached(self, authorization: str | None, need: Need, namespace: str) -> bool:
        """True when remembered answers already admit the request (no I/O)."""

    @abstractmethod
    def admit(self, authorization: str | None, need: Need, namespace: str) -> Identity:
        """The caller's identity, when it may do ``need`` in ``namespace``; else raise MLflow's
        UNAUTHENTICATED (401) or PERMISSION_DENIED (403). May ask the API server."""

    @abstractmethod
    def authenticate(self, authorization: str | None, need: Need | None) -> Identity:
        """The caller's identity, whatever it may do; else raise UNAUTHENTICATED (401), labelled
        with ``need`` when the request has one (GraphQL's are per field)."""

    @abstractmethod
    def workspaces(self, authorization: str | None) -> list[str]:
        """The namespaces the caller may use (may list experiments in)."""


class SingleUser(Guard):
    """``--auth none``: everyone is one user who may do everything (the server says so at
    start-up)."""

    IDENTITY = Identity("mlkube:single-user")

    def __init__(self, namespaces: Callable[[], Sequence[str]]) -> None:
        self.namespaces = namespaces

    def admit_cached(self, authorization: str | None, need: Need, namespace: str) -> bool:
        return True

    def admit(self, authorization: str | None, need: Need, namespace: str) -> Identity:
        return self.IDENTITY

    def authenticate(self, authorization: str | None, need: Need | None) -> Identity:
        return self.IDENTITY

    def workspaces(self, authorization: str | None) -> list[str]:
        return sorted(self.namespaces())


class KubernetesGuard(Guard):
    """``namespaces``: the workspaces there are when the server serves only those
    (server/served.py); empty: every namespace of the cluster, listed."""

    def __init__(
        self,
        kube: KubeClient,
        audiences: Sequence[str],
        *,
        namespaces: Sequence[str] = (),
        accept_api_tokens: bool = True,
        token_ttl: float = 30.0,
        access_ttl: float = 10.0,
        refused_ttl: float = 5.0,
        size: int = 10_000,
    ) -> None:
        self.kube = kube
        self.audiences = list(audiences)
        self.namespaces = list(namespaces)
        self.accept_api_tokens = accept_api_tokens
        self.token_ttl, self.access_ttl, self.refused_ttl = token_ttl, access_ttl, refused_ttl
        self.identities: Expiring[str, Identity | str] = Expiring(size)
        self.decisions: Expiring[tuple[Identity, Need, str], tuple[bool, str]] = Expiring(size)

    def admit_cached(self, authorization: str | None, need: Need, namespace: str) -> bool:
        token = bearer_of(authorization)
        if token is None:
            return False
        identity = self.identities.get(_digest(token))
        if not isinstance(identity, Identity):
            return False
        decision = self.decisions.get((identity, need, namespace))
        return decision is not None and decision[0]

    def admit(self, authorization: str | None, need: Need, namespace: str) -> Identity:
        identity = self.authenticate(authorization, need)
        refusal = self.decide(identity, need, namespace)
        if refusal is not None:
            raise forbidden(identity, need, namespace, refusal)
        return identity

    def authenticate(self, authorization: str | None, need: Need | None) -> Identity:
        return self.identify(token_of(authorization, need), need)

    def identify(self, token: str, need: Need | None) -> Identity:
        key = _digest(token)
        known = self.identities.get(key)
        if known is None:
            known = self._review(token)
            ttl = self.token_ttl if isinstance(known, Identity) else self.refused_ttl
            self.identities.put(key, known, ttl)
        if isinstance(known, str):
            raise unauthenticated(f"the cluster does not accept the bearer token ({known})", need)
        return known

    def _review(self, token: str) -> Identity | str:
        """The token's identity, or why the API server refused it."""
        error = "not authenticated"
        tries: list[list[str] | None] = [self.audiences] if self.audiences else []
        if self.accept_api_tokens:
            tries.append(None)
        for audiences in tries:
            status = self.kube.review_token(token, audiences)
            if status.get("authenticated"):
                return Identity.from_review(status.get("user") or {})
            error = str(status.get("error") or error)
        return error[:300]

    def decide(self, identity: Identity, need: Need, namespace: str) -> str | None:
        """None when allowed, else the API server's reason (maybe empty)."""
        key = (identity, need, namespace)
        known = self.decisions.get(key)
        if known is None:
            status = self.kube.review_access(
                {
                    **identity.subject(),
                    "resourceAttributes": {
                        "namespace": namespace,
                        "verb": need.verb,
                        "group": GROUP,
                        "resource": need.resource,
                    },
                }
            )
            allowed = bool(status.get("allowed")) and not status.get("denied")
            known = (allowed, "" if allowed else str(status.get("reason") or "no rule allows it"))
            self.decisions.put(key, known, self.access_ttl if allowed else self.refused_ttl)
        return None if known[0] else known[1]

    def workspaces(self, authorization: str | None) -> list[str]:
        need = list_(EXPERIMENTS)
        identity = self.authenticate(authorization, need)
        # The server may list no namespaces when it serves given ones (the chart's RBAC).
        names = self.namespaces or [ns["metadata"]["name"] for ns in self.kube.list_namespaces()]
        return sorted(name for name in names if self.decide(identity, need, name) is None)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
