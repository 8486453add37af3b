"""Workloads the operator manages for mlkube resources: Jobs, Pods, Secrets.

Same conventions as ``KubeClient``: plain dicts in and out, typed errors, bounded requests.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from mlkube_operator.kube.client import MERGE_PATCH, TIMEOUT, _error

Obj = dict[str, Any]


class Workloads:
    def __init__(self, api_client: k8s.ApiClient) -> None:
        self.api_client = api_client
        self.batch = k8s.BatchV1Api(api_client)
        self.core = k8s.CoreV1Api(api_client)
        self.apps = k8s.AppsV1Api(api_client)
        self.autoscaling = k8s.AutoscalingV2Api(api_client)

    @staticmethod
    def _plain(response: Any) -> Obj:
        """The JSON body of a response requested with _preload_content=False, as a dict."""
        out: Obj = json.loads(response.data)
        return out

    # -- Jobs -----------------------------------------------------------------------------------

    def get_job(self, namespace: str, name: str) -> Obj:
        try:
            return self._plain(
                self.batch.read_namespaced_job(
                    name, namespace, _request_timeout=TIMEOUT, _preload_content=False
                )
            )
        except ApiException as err:
            raise _error(err) from None

    def create_job(self, namespace: str, body: Obj) -> Obj:
        try:
            return self._plain(
                self.batch.create_namespaced_job(
                    namespace,
                    body,  # type: ignore[arg-type]  # plain dicts are sent as they are
                    _request_timeout=TIMEOUT,
                    _preload_content=False,
                )
            )
        except ApiException as err:
            raise _error(err) from None

    def patch_job(self, namespace: str, name: str, patch: Obj) -> Obj:
        try:
            return self._plain(
                self.batch.patch_namespaced_job(
                    name,
                    namespace,
                    patch,
                    _content_type=MERGE_PATCH,
                    _request_timeout=TIMEOUT,
                    _preload_content=False,
                )
            )
        except ApiException as err:
            raise _error(err) from None

    # -- Pods -----------------------------------------------------------------------------------

    def list_pods(self, namespace: str, selector: str) -> list[Obj]:
        try:
            response = self.core.list_namespaced_pod(
                namespace, label_selector=selector, _request_timeout=TIMEOUT, _preload_content=False
            )
        except ApiException as err:
            raise _error(err) from None
        items: list[Obj] = self._plain(response).get("items", [])
        return items

    # -- Secrets --------------------------------------------------------------------------------

    def get_secret(self, namespace: str, name: str) -> Obj:
        try:
            return self._plain(
                self.core.read_namespaced_secret(
                    name, namespace, _request_timeout=TIMEOUT, _preload_content=False
                )
            )
        except ApiException as err:
            raise _error(err) from None

    def create_secret(self, namespace: str, body: Obj) -> Obj:
        try:
            return self._plain(
                self.core.create_namespaced_secret(
                    namespace,
                    body,  # type: ignore[arg-type]  # plain dicts are sent as they are
                    _request_timeout=TIMEOUT,
                    _preload_content=False,
                )
            )
        except ApiException as err:
            raise _error(err) from None


# -- server-side apply: the operator states the whole object it wants; the API server merges. ---

APPLY = "application/apply-patch+yaml"
FIELD_MANAGER = "mlkube-operator"


def _apply_kwargs() -> dict[str, Any]:
    return {
        "field_manager": FIELD_MANAGER,
        "force": True,
        "_content_type": APPLY,
        "_request_timeout": TIMEOUT,
        "_preload_content": False,
    }


class Serving(Workloads):
    """Deployments, Services and autoscalers of model deployments."""

    def apply_deployment(self, body: Obj) -> Obj:
        meta = body["metadata"]
        try:
            return self._plain(
                self.apps.patch_namespaced_deployment(
                    meta["name"], meta["namespace"], body, **_apply_kwargs()
                )
            )
        except ApiException as err:
            raise _error(err) from None

    def get_deployment(self, namespace: str, name: str) -> Obj:
        try:
            return self._plain(
                self.apps.read_namespaced_deployment(
                    name, namespace, _request_timeout=TIMEOUT, _preload_content=False
                )
            )
        except ApiException as err:
            raise _error(err) from None

    def delete_deployment(self, namespace: str, name: str) -> None:
        try:
            self.apps.delete_namespaced_deployment(name, namespace, _request_timeout=TIMEOUT)
        except ApiException as err:
            raise _error(err) from None

    def apply_service(self, body: Obj) -> Obj:
        meta = body["metadata"]
        try:
            return self._plain(
                self.core.patch_namespaced_service(
                    meta["name"], meta["namespace"], body, **_apply_kwargs()
                )
            )
        except ApiException as err:
            raise _error(err) from None

    def get_service(self, namespace: str, name: str) -> Obj:
        try:
            return self._plain(
                self.core.read_namespaced_service(
                    name, namespace, _request_timeout=TIMEOUT, _preload_content=False
                )
            )
        except ApiException as err:
            raise _error(err) from None

    def apply_autoscaler(self, body: Obj) -> Obj:
        meta = body["metadata"]
        try:
            return self._plain(
                self.autoscaling.patch_namespaced_horizontal_pod_autoscaler(
                    meta["name"], meta["namespace"], body, **_apply_kwargs()
                )
            )
        except ApiException as err:
            raise _error(err) from None

    def delete_autoscaler(self, namespace: str, name: str) -> None:
        try:
            self.autoscaling.delete_namespaced_horizontal_pod_autoscaler(
                name, namespace, _request_timeout=TIMEOUT
            )
        except ApiException as err:
            raise _error(err) from None
