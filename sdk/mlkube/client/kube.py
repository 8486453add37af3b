"""Kube: the SDK's requests to the API server, plain dicts in and out, errors made typed.

Together with connection.py this is the only SDK code that touches the ``kubernetes`` library
(tests/unit/test_layers.py); everything above it sees dicts and mlkube's errors. Each request has
a client-side timeout. Patches of mlkube resources are JSON merge patches (RFC 7386), so a call
changes only the fields it names.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from mlkube.api.kinds import Kind
from mlkube.client.errors import (
    AlreadyExists,
    ApiError,
    Conflict,
    Forbidden,
    Invalid,
    MlkubeError,
    NotFound,
    Unauthorized,
    Unreachable,
)

Obj = dict[str, Any]
Objs = list[Obj]  # for methods below Kube.list, where `list` names that method
MERGE_PATCH = "application/merge-patch+json"
# (connect, read) seconds for ordinary requests.
TIMEOUT = (5.0, 30.0)
# Bytes of a scoring answer read through the service proxy; a larger one is refused.
MAX_PROXY_ANSWER = 64 * 1024 * 1024


@dataclass(frozen=True)
class About:
    """What a request was about, so that its error can name it."""

    verb: str  # get, list, create, ...
    what: str  # Run, Pod, Service, CustomResourceDefinition, ...
    name: str | None = None
    namespace: str | None = None
    plural: str = ""
    custom: bool = False  # one of mlkube's kinds

    def described(self) -> str:
        named = f" {self.name!r}" if self.name else "s"
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f"{self.what}{named}{where}"


def _status_of(err: ApiException) -> tuple[str, str, Obj]:
    """(reason, message, details) of the Status object the API server answered with."""
    reason, message, details = str(err.reason or ""), str(err.reason or ""), {}
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        body = json.loads(err.body or "{}")
        message = str(body.get("message") or message)
        reason = str(body.get("reason") or reason)
        details = dict(body.get("details") or {})
    return reason, message, details


def translate(err: ApiException, about: About, server: str) -> MlkubeError:
    """The typed error for an API server's refusal, its message naming what to do."""
    status = int(err.status or 0)
    reason, message, details = _status_of(err)
    if status == 401:
        return Unauthorized(
            f"the API server at {server} did not accept your credentials ({message}); log in "
            "again or fix the user of your kubeconfig context"
        )
    if status == 403:
        return Forbidden(
            f"{message}; ask for a RoleBinding that allows it in that namespace (Kubernetes' "
            "edit role covers mlkube's resources)"
        )
    if status == 404:
        if details.get("kind") == "namespaces" or (
            about.verb == "create" and "namespaces" in message
        ):
            return NotFound(
                f"namespace {about.namespace!r} does not exist; create it (`kubectl create "
                "namespace ...`) or pick another with -n",
                kind="Namespace",
                name=str(about.namespace),
            )
        if about.name and details.get("name"):
            return NotFound(
                f"{about.what} {about.name!r} not found in namespace {about.namespace}; check "
                f"the name and the namespace (`kubectl get {about.plural} -n {about.namespace}` "
                "lists them)",
                kind=about.what,
                name=about.name,
                namespace=about.namespace or "",
            )
        if about.custom and not details.get("name"):
            return NotFound(
                f"the API server at {server} has no {about.what} resource: mlkube's "
                "CustomResourceDefinitions are not installed; install mlkube's chart or "
                "`kubectl apply --server-side -f crds/`",
                kind=about.what,
            )
        return NotFound(f"{about.described()} not found: {message}", kind=about.what)
    if status == 409:
        if reason == "AlreadyExists":
            return AlreadyExists(
                f"{about.what} {about.name!r} already exists in namespace {about.namespace}; "
                "choose another name or delete it first"
            )
        return Conflict(f"{about.described()} changed meanwhile ({message}); try again")
    if status == 422:
        return Invalid(f"{message}; fix the field it names")
    return ApiError(
        f"{about.verb} {about.described()}: the API server answered {status} {reason}: {message}",
        status,
    )


def _short(err: BaseException) -> str:
    """The useful end of a urllib3 error: 'Connection refused', not the object's repr."""
    text = str(getattr(err, "reason", None) or err)
    errno = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    return (errno[0] if errno else re.sub(r"<[^>]*>:\s*", "", text))[:200]


class Kube:
    """One connection pool to one API server."""

    def __init__(self, api_client: k8s.ApiClient, server: str) -> None:
        self.api_client: Any = api_client
        self.server = server
        self.custom: Any = k8s.CustomObjectsApi(api_client)
        self.core: Any = k8s.CoreV1Api(api_client)
        self.apps: Any = k8s.AppsV1Api(api_client)
        self.extensions: Any = k8s.ApiextensionsV1Api(api_client)
        self.authn: Any = k8s.AuthenticationV1Api(api_client)
        self.versions: Any = k8s.VersionApi(api_client)

    def close(self) -> None:
        self.api_client.close()

    @contextlib.contextmanager
    def calling(self, about: About) -> Iterator[None]:
        """Turn the library's exceptions into mlkube's errors."""
        try:
            yield
        except ApiException as err:
            raise translate(err, about, self.server) from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise Unreachable(
                f"cannot reach the Kubernetes API server at {self.server}: {_short(err)}; check "
                "that the cluster runs and that your kubeconfig context points at it "
                "(`kubectl cluster-info`, --context)"
            ) from None

    def _json(self, about: About, method: Any, *args: Any, **kwargs: Any) -> Obj:
        kwargs.setdefault("_request_timeout", TIMEOUT)
        with self.calling(about):
            response = method(*args, _preload_content=False, **kwargs)
            data = response.data
        out: Obj = json.loads(data) if data else {}
        return out

    # -- mlkube's resources -----------------------------------------------------------------

    def _about(
        self, verb: str, kind: Kind, namespace: str | None, name: str | None = None
    ) -> About:
        return About(verb, kind.kind, name, namespace, kind.plural, custom=True)

    def create(self, kind: Kind, namespace: str, body: Obj) -> Obj:
        name = body.get("metadata", {}).get("name") or body.get("metadata", {}).get("generateName")
        return self._json(
            self._about("create", kind, namespace, name),
            self.custom.create_namespaced_custom_object,
            kind.group,
            kind.version,
            namespace,
            kind.plural,
            body,
        )

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        return self._json(
            self._about("get", kind, namespace, name),
            self.custom.get_namespaced_custom_object,
            kind.group,
            kind.version,
            namespace,
            kind.plural,
            name,
        )

    def list(
        self, kind: Kind, namespace: str | None, selector: str | None = None
    ) -> tuple[Objs, str]:
        """The objects (of ``namespace``, or every namespace) and the list's resourceVersion."""
        extra: dict[str, Any] = {"_request_timeout": (5.0, 120.0)}
        if selector:
            extra["label_selector"] = selector
        about = self._about("list", kind, namespace)
        if namespace is None:
            out = self._json(
                about,
                self.custom.list_cluster_custom_object,
                kind.group,
                kind.version,
                kind.plural,
                **extra,
            )
        else:
            out = self._json(
                about,
                self.custom.list_namespaced_custom_object,
                kind.group,
                kind.version,
                namespace,
                kind.plural,
                **extra,
            )
        return list(out.get("items") or []), str((out.get("metadata") or {}).get("resourceVersion"))

    def patch(self, kind: Kind, namespace: str, name: str, patch: Obj) -> Obj:
        return self._json(
            self._about("patch", kind, namespace, name),
            self.custom.patch_namespaced_custom_object,
            kind.group,
            kind.version,
            namespace,
            kind.plural,
            name,
            patch,
            _content_type=MERGE_PATCH,
        )

    def replace(self, kind: Kind, namespace: str, name: str, body: Obj) -> Obj:
        """PUT the whole object; 409 Conflict when its resourceVersion moved."""
        return self._json(
            self._about("update", kind, namespace, name),
            self.custom.replace_namespaced_custom_object,
            kind.group,
            kind.version,
            namespace,
            kind.plural,
            name,
            body,
        )

    def delete(self, kind: Kind, namespace: str, name: str) -> None:
        self._json(
            self._about("delete", kind, namespace, name),
            self.custom.delete_namespaced_custom_object,
            kind.group,
            kind.version,
            namespace,
            kind.plural,
            name,
        )

    def watch(
        self,
        kind: Kind,
        namespace: str,
        resource_version: str,
        *,
        name: str | None = None,
        selector: str | None = None,
        timeout: int = 60,
    ) -> Iterator[tuple[str, Obj]]:
        """Events after ``resource_version`` for at most ``timeout`` seconds."""
        kwargs: dict[str, Any] = {
            "watch": True,
            "resource_version": resource_version,
            "timeout_seconds": max(1, timeout),
            "_request_timeout": (5.0, timeout + 15.0),
        }
        if name:
            kwargs["field_selector"] = f"metadata.name={name}"
        if selector:
            kwargs["label_selector"] = selector
        about = self._about("watch", kind, namespace, name)
        with self.calling(about):
            response = self.custom.list_namespaced_custom_object(
                kind.group, kind.version, namespace, kind.plural, _preload_content=False, **kwargs
            )
        with self.calling(about):
            try:
                for line in _lines(response):
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        obj = event.get("object") or {}
                        raise ApiError(
                            f"watch of {about.described()}: {obj.get('message', obj)}",
                            int(obj.get("code") or 500),
                        )
                    yield str(event["type"]), event["object"]
            finally:
                response.release_conn()

    # -- what else the SDK reads: pods and their logs, Services, the platform -----------------

    def pods(self, namespace: str, selector: str) -> Objs:
        about = About("list", "Pod", None, namespace, "pods")
        out = self._json(about, self.core.list_namespaced_pod, namespace, label_selector=selector)
        items: Objs = out.get("items") or []
        return items

    def log_lines(
        self, namespace: str, pod: str, container: str, *, follow: bool, quiet: float = 30.0
    ) -> Iterator[str]:
        """The container's log, line by line; with ``follow``, until the container ends or
        has written nothing for ``quiet`` seconds."""
        about = About("get", "log of pod", pod, namespace, "pods/log")
        with self.calling(about):
            response = self.core.read_namespaced_pod_log(
                pod,
                namespace,
                container=container,
                follow=follow,
                _preload_content=False,
                _request_timeout=(5.0, max(1.0, quiet)) if follow else TIMEOUT,
            )
        with self.calling(about):
            try:
                for line in _lines(response):
                    yield line.decode("utf-8", errors="replace")
            except urllib3.exceptions.ReadTimeoutError:
                return  # quiet that long: the caller's deadline decides what follows
            finally:
                response.release_conn()

    def services(self, namespace: str, selector: str) -> Objs:
        about = About("list", "Service", None, namespace, "services")
        out = self._json(
            about, self.core.list_namespaced_service, namespace, label_selector=selector
        )
        items: Objs = out.get("items") or []
        return items

    def service_proxy(
        self,
        namespace: str,
        *,
        service: str,
        port: str,
        path: str,
        body: Any,
        timeout: float,
    ) -> tuple[int, bytes]:
        """POST ``body`` (a JSON value) to ``path`` of the Service through the API server's
        service proxy (RBAC: create on services/proxy, which Kubernetes' edit role grants); the
        answer's status and at most MAX_PROXY_ANSWER bytes of it."""
        about = About("create", "Service proxy", service, namespace, "services/proxy")
        params = self.api_client.param_serialize(
            method="POST",
            resource_path="/api/v1/namespaces/{namespace}/services/{name}/proxy/{path}",
            path_params={"namespace": namespace, "name": f"{service}:{port}", "path": path},
            header_params={"Content-Type": "application/json", "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
        )
        with self.calling(about):
            response = self.api_client.call_api(*params, _request_timeout=(5.0, timeout))
            raw = response.response
            try:
                data = raw.read(MAX_PROXY_ANSWER + 1)
            finally:
                raw.release_conn()
        if len(data) > MAX_PROXY_ANSWER:
            raise ApiError(
                f"the answer of {service} in namespace {namespace} is larger than "
                f"{MAX_PROXY_ANSWER} bytes; send fewer rows per request",
                413,
            )
        return int(response.status), bytes(data)

    def deployments(self, selector: str) -> Objs:
        """Deployments in every namespace whose labels match (mlkube's own components)."""
        about = About("list", "Deployment", None, None, "deployments")
        out = self._json(
            about, self.apps.list_deployment_for_all_namespaces, label_selector=selector
        )
        items: Objs = out.get("items") or []
        return items

    def crd(self, name: str) -> Obj:
        about = About("get", "CustomResourceDefinition", name, None, "customresourcedefinitions")
        return self._json(about, self.extensions.read_custom_resource_definition, name)

    def server_version(self) -> str:
        about = About("get", "version", None, None, "version")
        info = self._json(about, self.versions.get_code)
        return str(info.get("gitVersion") or "unknown")

    def whoami(self) -> str | None:
        """The user these credentials authenticate as (a SelfSubjectReview, Kubernetes 1.28+),
        or None when the API server cannot say."""
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        about = About("create", "SelfSubjectReview", None, None, "selfsubjectreviews")
        try:
            review = self._json(about, self.authn.create_self_subject_review, body)
        except (ApiError, Forbidden, NotFound):
            return None
        name = ((review.get("status") or {}).get("userInfo") or {}).get("username")
        return str(name) if name else None


def _lines(response: Any) -> Iterator[bytes]:
    """The lines of a streamed response body, as they arrive."""
    buffer = b""
    for chunk in response.stream(amt=None, decode_content=False):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            yield line
    if buffer:
        yield buffer
