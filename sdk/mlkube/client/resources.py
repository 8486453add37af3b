"""Create, read and wait for mlkube resources from a laptop, a notebook or a pod."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any, cast

from kubernetes import client as k8s
from kubernetes import config as _k8s_config
from kubernetes.client.exceptions import ApiException

from mlkube.api.kinds import Kind

Obj = dict[str, Any]
TIMEOUT = (5.0, 30.0)
# The library's config loaders carry no annotations.
k8s_config = cast(Any, _k8s_config)


class ClientError(RuntimeError):
    """The API server refused a request; ``status`` is its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(err: ApiException) -> ClientError:
    message = str(err.reason)
    with contextlib.suppress(ValueError, AttributeError):
        message = str(json.loads(err.body or "{}").get("message", message))
    return ClientError(int(err.status or 0), message)


class Resources:
    """mlkube custom resources in one cluster."""

    def __init__(self, api_client: k8s.ApiClient) -> None:
        self.custom = k8s.CustomObjectsApi(api_client)
        self.authentication = k8s.AuthenticationV1Api(api_client)

    def whoami(self) -> str | None:
        """The user name the API server authenticates these credentials as (a
        SelfSubjectReview, Kubernetes 1.28+), or None when it cannot say."""
        try:
            review = self.authentication.create_self_subject_review(
                k8s.V1SelfSubjectReview(
                    api_version="authentication.k8s.io/v1", kind="SelfSubjectReview"
                ),
                _request_timeout=TIMEOUT,
            )
        except (ApiException, OSError, ValueError):
            return None
        info = getattr(getattr(review, "status", None), "user_info", None)
        name = getattr(info, "username", None)
        return str(name) if name else None

    @classmethod
    def connect(cls, kubeconfig: str | None = None) -> Resources:
        """From ``kubeconfig`` ($KUBECONFIG, ~/.kube/config) or, inside a pod, its account."""
        configuration = k8s.Configuration()
        try:
            k8s_config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        except (k8s_config.ConfigException, FileNotFoundError, TypeError):
            k8s_config.load_incluster_config(client_configuration=configuration)
        return cls(k8s.ApiClient(configuration))

    def create(self, kind: Kind, namespace: str, body: Obj) -> Obj:
        try:
            out = cast(
                Obj,
                self.custom.create_namespaced_custom_object(
                    kind.group, kind.version, namespace, kind.plural, body, _request_timeout=TIMEOUT
                ),
            )
        except ApiException as err:
            raise _error(err) from None
        return out

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        try:
            out = cast(
                Obj,
                self.custom.get_namespaced_custom_object(
                    kind.group, kind.version, namespace, kind.plural, name, _request_timeout=TIMEOUT
                ),
            )
        except ApiException as err:
            raise _error(err) from None
        return out

    def wait_for(
        self, kind: Kind, namespace: str, name: str, *, field: str, values: set[str], timeout: float
    ) -> Obj:
        """Poll until ``status.<field>`` is one of ``values``; TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            obj = self.get(kind, namespace, name)
            if (obj.get("status") or {}).get(field) in values:
                return obj
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{kind.kind} {namespace}/{name}: status.{field} not in {values}"
                )
            time.sleep(1.0)
