"""Workloads the operator manages for mlkube resources: Jobs, Pods, Secrets, ConfigMaps, and the
Deployments, Services and autoscalers of model deployments.

Same conventions as ``KubeClient``: plain dicts in and out, typed errors, bounded requests.
Serving objects are written with server-side apply: the operator states the whole object it
wants (field manager ``mlkube-operator``) and the API server merges.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from mlkube_operator.kube.client import MERGE_PATCH, TIMEOUT, _error

Obj = dict[str, Any]
APPLY = "application/apply-patch+yaml"
FIELD_MANAGER = "mlkube-operator"


def _call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Obj:
    """One request, answered as the JSON body it carries (or {}), errors made typed."""
    try:
        response = method(*args, _request_timeout=TIMEOUT, _preload_content=False, **kwargs)
    except ApiException as err:
        raise _error(err) from None
    data = getattr(response, "data", b"")
    out: Obj = json.loads(data) if data else {}
    return out


def _apply(method: Callable[..., Any], body: Obj) -> Obj:
    meta = body["metadata"]
    return _call(
        method,
        meta["name"],
        meta["namespace"],
        body,
        field_manager=FIELD_MANAGER,
        force=True,
        _content_type=APPLY,
    )


class Workloads:
    def __init__(self, api_client: k8s.ApiClient) -> None:
        self.api_client = api_client
        self.batch = k8s.BatchV1Api(api_client)
        self.core = k8s.CoreV1Api(api_client)

    # -- Jobs, Pods, Secrets, ConfigMaps -----------------------------------------------------------

    def get_job(self, namespace: str, name: str) -> Obj:
        return _call(self.batch.read_namespaced_job, name, namespace)

    def create_job(self, namespace: str, body: Obj) -> Obj:
        return _call(self.batch.create_namespaced_job, namespace, body)

    def patch_job(self, namespace: str, name: str, patch: Obj) -> Obj:
        return _call(
            self.batch.patch_namespaced_job, name, namespace, patch, _content_type=MERGE_PATCH
        )

    def list_pods(self, namespace: str, selector: str) -> list[Obj]:
        items: list[Obj] = _call(
            self.core.list_namespaced_pod, namespace, label_selector=selector
        ).get("items", [])
        return items

    def get_secret(self, namespace: str, name: str) -> Obj:
        return _call(self.core.read_namespaced_secret, name, namespace)

    def create_secret(self, namespace: str, body: Obj) -> Obj:
        return _call(self.core.create_namespaced_secret, namespace, body)

    def get_configmap(self, namespace: str, name: str) -> Obj:
        return _call(self.core.read_namespaced_config_map, name, namespace)

    def apply_configmap(self, namespace: str, body: Obj) -> Obj:
        return _apply(
            self.core.patch_namespaced_config_map,
            {**body, "metadata": {**body["metadata"], "namespace": namespace}},
        )


class Serving(Workloads):
    """Also the Deployments, Services and autoscalers of model deployments."""

    def __init__(self, api_client: k8s.ApiClient) -> None:
        super().__init__(api_client)
        self.apps = k8s.AppsV1Api(api_client)
        self.autoscaling = k8s.AutoscalingV2Api(api_client)

    def apply_deployment(self, body: Obj) -> Obj:
        return _apply(self.apps.patch_namespaced_deployment, body)

    def get_deployment(self, namespace: str, name: str) -> Obj:
        return _call(self.apps.read_namespaced_deployment, name, namespace)

    def delete_deployment(self, namespace: str, name: str) -> None:
        _call(self.apps.delete_namespaced_deployment, name, namespace)

    def apply_service(self, body: Obj) -> Obj:
        return _apply(self.core.patch_namespaced_service, body)

    def get_service(self, namespace: str, name: str) -> Obj:
        return _call(self.core.read_namespaced_service, name, namespace)

    def apply_autoscaler(self, body: Obj) -> Obj:
        return _apply(self.autoscaling.patch_namespaced_horizontal_pod_autoscaler, body)

    def delete_autoscaler(self, namespace: str, name: str) -> None:
        _call(self.autoscaling.delete_namespaced_horizontal_pod_autoscaler, name, namespace)
