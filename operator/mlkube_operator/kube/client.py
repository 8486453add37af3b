"""KubeClient: the operator's one Kubernetes adapter, and the only operator module that imports
the ``kubernetes`` library (tests/unit/test_layers.py).

It does create/get/list/patch/watch of mlkube resources and ConfigMaps, and the workloads the
operator manages: Jobs, Pods (and their logs), the ServiceAccounts and RoleBindings of pods in
users' namespaces, and the Deployments, Services and autoscalers of model deployments. Plain dicts
in and out, typed errors (errors.py). All methods block; every request has a client-side timeout.
Patches of mlkube resources are JSON merge patches (RFC 7386) so a writer touches only the fields it
names ("one writer per status field"); a patch that carries ``metadata.resourceVersion`` is a
compare-and-swap (409 if it moved). Serving objects are written with server-side apply: the operator
states the whole object it wants (field manager ``mlkube-operator``) and the API server merges.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

from kubernetes import client as k8s
from kubernetes import config as _k8s_config
from kubernetes.client.exceptions import ApiException

from mlkube import layout
from mlkube.api.kinds import Kind
from mlkube_operator.kube.errors import (
    AlreadyExists,
    Conflict,
    Gone,
    Invalid,
    KubeError,
    NotFound,
)

Obj = dict[str, Any]
Objs = list[Obj]  # for methods below KubeClient.list, where `list` names that method
# The generated client's annotations are partial and its config loaders untyped: this module is
# the one place that touches it, so it is handled as Any here and typed at our boundary.
k8s_config = cast(Any, _k8s_config)
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
FIELD_MANAGER = "mlkube-operator"
# (connect, read) seconds for ordinary requests.
TIMEOUT = (5.0, 30.0)


def _error(err: ApiException) -> KubeError:
    status = int(err.status or 0)
    reason = str(err.reason or "")
    message = reason
    try:
        body = json.loads(err.body or "{}")
        message = str(body.get("message", reason))
        reason = str(body.get("reason", reason))
    except (ValueError, TypeError, AttributeError):
        pass
    if status == 404:
        return NotFound(status, reason, message)
    if status == 409:
        kind = AlreadyExists if reason == "AlreadyExists" else Conflict
        return kind(status, reason, message)
    if status == 410:
        return Gone(status, reason, message)
    if status == 422:
        return Invalid(status, reason, message)
    return KubeError(status, reason, message)


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


class KubeClient:
    """One connection pool to one API server."""

    def __init__(self, api_client: k8s.ApiClient) -> None:
        self.api_client: Any = api_client
        self.custom: Any = k8s.CustomObjectsApi(api_client)
        self.core: Any = k8s.CoreV1Api(api_client)
        self.batch: Any = k8s.BatchV1Api(api_client)
        self.apps: Any = k8s.AppsV1Api(api_client)
        self.autoscaling: Any = k8s.AutoscalingV2Api(api_client)
        self.networking: Any = k8s.NetworkingV1Api(api_client)
        self.authn: Any = k8s.AuthenticationV1Api(api_client)
        self.authz: Any = k8s.AuthorizationV1Api(api_client)
        self.rbac: Any = k8s.RbacAuthorizationV1Api(api_client)

    @classmethod
    def from_config(cls, kubeconfig: str | None = None, pool_size: int = 32) -> KubeClient:
        """From a kubeconfig file, or the in-cluster service account when ``kubeconfig`` is None
        and $KUBECONFIG is unset."""
        configuration = k8s.Configuration()
        if kubeconfig:
            k8s_config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        else:
            try:
                k8s_config.load_incluster_config(client_configuration=configuration)
            except k8s_config.ConfigException:
                k8s_config.load_kube_config(client_configuration=configuration)
        # Handler threads share the pool; the default of 4 connections would serialize them.
        configuration.connection_pool_maxsize = pool_size
        return cls(k8s.ApiClient(configuration))

    def close(self) -> None:
        self.api_client.close()

    # -- custom resources -------------------------------------------------------------------

    def create(self, kind: Kind, namespace: str, body: Obj) -> Obj:
        try:
            out: Obj = self.custom.create_namespaced_custom_object(
                kind.group, kind.version, namespace, kind.plural, body, _request_timeout=TIMEOUT
            )
        except ApiException as err:
            raise _error(err) from None
        return out

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        try:
            out: Obj = self.custom.get_namespaced_custom_object(
                kind.group, kind.version, namespace, kind.plural, name, _request_timeout=TIMEOUT
            )
        except ApiException as err:
            raise _error(err) from None
        return out

    def list(
        self, kind: Kind, namespace: str | None = None, selector: str | None = None
    ) -> tuple[list[Obj], str]:
        """Every object (of one namespace, or all; with ``selector``, those its labels match)
        and the list's resourceVersion."""
        extra: dict[str, Any] = {"_request_timeout": (5.0, 120.0)}
        if selector:
            extra["label_selector"] = selector
        try:
            if namespace is None:
                out = self.custom.list_cluster_custom_object(
                    kind.group, kind.version, kind.plural, **extra
                )
            else:
                out = self.custom.list_namespaced_custom_object(
                    kind.group, kind.version, namespace, kind.plural, **extra
                )
        except ApiException as err:
            raise _error(err) from None
        return list(out.get("items", [])), str(out["metadata"]["resourceVersion"])

    def patch(
        self, kind: Kind, namespace: str, name: str, patch: Obj, *, status: bool = False
    ) -> Obj:
        """Merge-patch the object (``status``: its status subresource) and return it."""
        method = (
            self.custom.patch_namespaced_custom_object_status
            if status
            else self.custom.patch_namespaced_custom_object
        )
        try:
            out: Obj = method(
                kind.group,
                kind.version,
                namespace,
                kind.plural,
                name,
                patch,
                _content_type=MERGE_PATCH,
                _request_timeout=TIMEOUT,
            )
        except ApiException as err:
            raise _error(err) from None
        return out

    def delete(self, kind: Kind, namespace: str, name: str) -> None:
        try:
            self.custom.delete_namespaced_custom_object(
                kind.group, kind.version, namespace, kind.plural, name, _request_timeout=TIMEOUT
            )
        except ApiException as err:
            raise _error(err) from None

    def watch(
        self, kind: Kind, resource_version: str, namespace: str | None = None, timeout: int = 60
    ) -> WatchStream:
        """Events after ``resource_version`` for at most ``timeout`` seconds (with bookmarks)."""
        kwargs: dict[str, Any] = {
            "watch": True,
            "resource_version": resource_version,
            "allow_watch_bookmarks": True,
            "timeout_seconds": timeout,
            "_preload_content": False,
            "_request_timeout": (5.0, timeout + 15.0),
        }
        try:
            if namespace is None:
                response = self.custom.list_cluster_custom_object(
                    kind.group, kind.version, kind.plural, **kwargs
                )
            else:
                response = self.custom.list_namespaced_custom_object(
                    kind.group, kind.version, namespace, kind.plural, **kwargs
                )
        except ApiException as err:
            raise _error(err) from None
        return WatchStream(response)

    # -- ConfigMaps -------------------------------------------------------------------------

    def get_config_map(self, namespace: str, name: str) -> tuple[dict[str, str], str]:
        """The ConfigMap's data and resourceVersion."""
        try:
            found = self.core.read_namespaced_config_map(name, namespace, _request_timeout=TIMEOUT)
        except ApiException as err:
            raise _error(err) from None
        return dict(found.data or {}), str(found.metadata.resource_version)

    def put_config_map(
        self, namespace: str, name: str, data: dict[str, str], resource_version: str | None
    ) -> str:
        """Create the ConfigMap (``resource_version`` None) or replace it if it is still at
        ``resource_version`` (Conflict otherwise); returns the new resourceVersion."""
        body = k8s.V1ConfigMap(
            metadata=k8s.V1ObjectMeta(
                name=name,
                resource_version=resource_version,
                labels=dict(layout.PART_OF),
            ),
            data=data,
        )
        try:
            if resource_version is None:
                out = self.core.create_namespaced_config_map(
                    namespace, body, _request_timeout=TIMEOUT
                )
            else:
                out = self.core.replace_namespaced_config_map(
                    name, namespace, body, _request_timeout=TIMEOUT
                )
        except ApiException as err:
            raise _error(err) from None
        return str(out.metadata.resource_version)

    def apply_configmap(self, namespace: str, body: Obj) -> Obj:
        return _apply(
            self.core.patch_namespaced_config_map,
            {**body, "metadata": {**body["metadata"], "namespace": namespace}},
        )

    # -- Jobs, Pods ---------------------------------------------------------------------------

    def get_job(self, namespace: str, name: str) -> Obj:
        return _call(self.batch.read_namespaced_job, name, namespace)

    def create_job(self, namespace: str, body: Obj) -> Obj:
        return _call(self.batch.create_namespaced_job, namespace, body)

    def patch_job(self, namespace: str, name: str, patch: Obj) -> Obj:
        return _call(
            self.batch.patch_namespaced_job, name, namespace, patch, _content_type=MERGE_PATCH
        )

    def read_pod_log(self, namespace: str, name: str, container: str, limit_bytes: int) -> bytes:
        """The first ``limit_bytes`` bytes (about: the API server may give a few more) of the
        container's log, as the kubelet keeps it."""
        try:
            response = self.core.read_namespaced_pod_log(
                name,
                namespace,
                container=container,
                limit_bytes=limit_bytes,
                _preload_content=False,
                _request_timeout=(5.0, 120.0),
            )
        except ApiException as err:
            raise _error(err) from None
        return bytes(response.data or b"")

    def remove_pod_finalizer(self, namespace: str, name: str, finalizer: str) -> None:
        """Take ``finalizer`` off the pod, leaving any other (the Job controller's) in place."""
        patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": [finalizer]}}
        _call(
            self.core.patch_namespaced_pod,
            name,
            namespace,
            patch,
            _content_type=STRATEGIC_MERGE_PATCH,
        )

    def list_pods(self, namespace: str, selector: str) -> Objs:
        items: Objs = _call(self.core.list_namespaced_pod, namespace, label_selector=selector).get(
            "items", []
        )
        return items

    # -- identities of pods in users' namespaces (get and create only) ------------------------

    def get_service_account(self, namespace: str, name: str) -> Obj:
        return _call(self.core.read_namespaced_service_account, name, namespace)

    def create_service_account(self, namespace: str, body: Obj) -> Obj:
        return _call(self.core.create_namespaced_service_account, namespace, body)

    def get_role_binding(self, namespace: str, name: str) -> Obj:
        return _call(self.rbac.read_namespaced_role_binding, name, namespace)

    def create_role_binding(self, namespace: str, body: Obj) -> Obj:
        return _call(self.rbac.create_namespaced_role_binding, namespace, body)

    # -- model serving: Deployments, Services, autoscalers (server-side apply) ---------------

    def apply_deployment(self, body: Obj) -> Obj:
        return _apply(self.apps.patch_namespaced_deployment, body)

    def get_deployment(self, namespace: str, name: str) -> Obj:
        return _call(self.apps.read_namespaced_deployment, name, namespace)

    def delete_deployment(self, namespace: str, name: str) -> None:
        _call(self.apps.delete_namespaced_deployment, name, namespace)

    def apply_service(self, body: Obj) -> Obj:
        return _apply(self.core.patch_namespaced_service, body)

    def apply_network_policy(self, body: Obj) -> Obj:
        return _apply(self.networking.patch_namespaced_network_policy, body)

    def get_service(self, namespace: str, name: str) -> Obj:
        return _call(self.core.read_namespaced_service, name, namespace)

    def apply_autoscaler(self, body: Obj) -> Obj:
        return _apply(self.autoscaling.patch_namespaced_horizontal_pod_autoscaler, body)

    def delete_autoscaler(self, namespace: str, name: str) -> None:
        _call(self.autoscaling.delete_namespaced_horizontal_pod_autoscaler, name, namespace)

    # -- the tracking server's questions: who is this, and may they? -------------------------

    def review_token(self, token: str, audiences: Sequence[str] | None) -> Obj:
        """A TokenReview's status (``authenticated``, ``user``, ``audiences``, ``error``);
        ``audiences`` None means the API server's own."""
        spec: Obj = {"token": token}
        if audiences:
            spec["audiences"] = [*audiences]
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
        status: Obj = _call(self.authn.create_token_review, body).get("status", {})
        return status

    def review_access(self, spec: Obj) -> Obj:
        """A SubjectAccessReview's status (``allowed``, ``denied``, ``reason``)."""
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": spec,
        }
        status: Obj = _call(self.authz.create_subject_access_review, body).get("status", {})
        return status

    def list_namespaces(self) -> Objs:
        items: Objs = _call(self.core.list_namespace).get("items", [])
        return items


class WatchStream:
    """The events of one watch request as ``(type, object)``; ``close()`` ends it at once."""

    def __init__(self, response: Any) -> None:
        self._response = response

    def __iter__(self) -> Iterator[tuple[str, Obj]]:
        buffer = b""
        try:
            for chunk in self._response.stream(amt=None, decode_content=False):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield self._event(line)
            if buffer.strip():
                yield self._event(buffer)
        finally:
            self.close()

    @staticmethod
    def _event(line: bytes) -> tuple[str, Obj]:
        event = json.loads(line)
        kind, obj = str(event["type"]), event["object"]
        if kind == "ERROR":
            code = int(obj.get("code", 500))
            error = Gone if code == 410 else KubeError
            raise error(code, str(obj.get("reason", "")), str(obj.get("message", "")))
        return kind, obj

    def close(self) -> None:
        try:
            self._response.close()
            self._response.release_conn()
        except Exception:
            pass
