"""The API calls the agent makes, typed: pods, configuration, tokens, access reviews, events."""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from urllib.parse import quote

from e2e.cluster.agent.kube import JSON, ApiError, Client
from e2e.cluster.agent.model import ConfigMap, Pod, PodStatus, Secret


def pod_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(name)}"


@dataclass(frozen=True)
class Token:
    token: str
    expires_at: float  # epoch seconds


class Api:
    def __init__(self, client: Client) -> None:
        self.client = client

    # -- pods -----------------------------------------------------------------------------------

    def get_pod(self, namespace: str, name: str) -> Pod | None:
        try:
            return Pod.model_validate(self.client.get(pod_path(namespace, name)))
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def patch_pod_status(self, pod: Pod, status: PodStatus) -> None:
        body = status.wire()
        # Unset in the new status means removed: a strategic merge patch keeps what it does not
        # name (conditions merge by type), and removes what it sets to null.
        for field in ("reason", "message"):
            body.setdefault(field, None)
        for condition in body.get("conditions", []):
            for field in ("reason", "message"):
                condition.setdefault(field, None)
        self.client.strategic_patch(
            pod_path(pod.metadata.namespace, pod.metadata.name) + "/status",
            {"metadata": {"uid": pod.metadata.uid}, "status": body},
        )

    def patch_pod_conditions(self, pod: Pod, conditions: list[JSON]) -> None:
        self.client.strategic_patch(
            pod_path(pod.metadata.namespace, pod.metadata.name) + "/status",
            {"metadata": {"uid": pod.metadata.uid}, "status": {"conditions": conditions}},
        )

    def bind(self, pod: Pod, node: str) -> None:
        self.client.create(
            pod_path(pod.metadata.namespace, pod.metadata.name) + "/binding",
            {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": pod.metadata.name, "uid": pod.metadata.uid},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node},
            },
        )

    def delete_pod_now(self, pod: Pod) -> None:
        """The kubelet's final delete, once the pod's containers are gone."""
        try:
            self.client.delete(
                pod_path(pod.metadata.namespace, pod.metadata.name),
                {
                    "apiVersion": "v1",
                    "kind": "DeleteOptions",
                    "gracePeriodSeconds": 0,
                    "preconditions": {"uid": pod.metadata.uid},
                },
            )
        except ApiError as err:
            if err.status not in (404, 409):
                raise

    # -- configuration --------------------------------------------------------------------------

    def config_map(self, namespace: str, name: str) -> ConfigMap | None:
        try:
            return ConfigMap.model_validate(
                self.client.get(f"/api/v1/namespaces/{quote(namespace)}/configmaps/{quote(name)}")
            )
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def secret(self, namespace: str, name: str) -> Secret | None:
        try:
            return Secret.model_validate(
                self.client.get(f"/api/v1/namespaces/{quote(namespace)}/secrets/{quote(name)}")
            )
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def token(self, pod: Pod, audience: str | None, expiration_seconds: int) -> Token:
        """A service-account token bound to ``pod`` (the TokenRequest API)."""
        ns = pod.metadata.namespace
        sa = pod.spec.service_account_name or "default"
        spec: JSON = {
            "expirationSeconds": expiration_seconds,
            "boundObjectRef": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": pod.metadata.name,
                "uid": pod.metadata.uid,
            },
        }
        if audience:
            spec["audiences"] = [audience]
        answer = self.client.create(
            f"/api/v1/namespaces/{quote(ns)}/serviceaccounts/{quote(sa)}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
        )
        status = answer["status"]
        expires = calendar.timegm(
            time.strptime(status["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
        )
        return Token(token=status["token"], expires_at=float(expires))

    # -- authorization --------------------------------------------------------------------------

    def allowed(self, user: str, groups: list[str], node: str, subresource: str) -> bool:
        """May ``user`` ``get nodes/<subresource>`` of ``node``? (kubelet webhook authorization)"""
        review = self.client.create(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {
                    "user": user,
                    "groups": groups,
                    "resourceAttributes": {
                        "verb": "get",
                        "resource": "nodes",
                        "subresource": subresource,
                        "name": node,
                    },
                },
            },
        )
        return bool(review.get("status", {}).get("allowed"))
