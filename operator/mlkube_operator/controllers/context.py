"""What every controller needs, built once at startup and handed to handlers as Kopf's memo."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import kopf

from mlkube.api.common import ConditionStatus
from mlkube_operator.kube.client import KubeClient
from mlkube_operator.kube.errors import AlreadyExists, NotFound
from mlkube_operator.resources.run import CA_BUNDLE_CONFIGMAP, CA_BUNDLE_KEY, build_ca_bundle
from mlkube_operator.settings import Settings


class KeyedLocks:
    """One lock per object, so events of a Run, its Job and its pods reconcile it one at a time."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield


class SettingsError(RuntimeError):
    """A setting names something the operator cannot use; the message says which and why."""


def read_ca_bundle(path: str) -> str | None:
    """The PEM text of MLKUBE_CA_BUNDLE (read once, at start), or None when it is unset."""
    if not path:
        return None
    try:
        pem = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise SettingsError(f"MLKUBE_CA_BUNDLE={path}: cannot read it: {err}") from None
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise SettingsError(f"MLKUBE_CA_BUNDLE={path}: holds no PEM certificate")
    return pem


@dataclass
class Context:
    settings: Settings
    kube: KubeClient
    locks: KeyedLocks = field(default_factory=KeyedLocks)
    ca_bundle: str | None = None  # PEM text, from settings.ca_bundle

    @property
    def workloads(self) -> KubeClient:
        """The same adapter as ``kube``: the name the controllers use for Jobs, Pods, Secrets
        and serving objects (one Kubernetes adapter, issue 12)."""
        return self.kube

    def ensure_s3_secret(self, namespace: str) -> None:
        """The Secret that pods of ``namespace`` read object-store credentials from."""
        s = self.settings
        try:
            self.workloads.get_secret(namespace, s.s3_secret)
            return
        except NotFound:
            pass
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": s.s3_secret, "labels": {"app.kubernetes.io/managed-by": "mlkube"}},
            "type": "Opaque",
            "stringData": {"accessKey": s.s3_access_key, "secretKey": s.s3_secret_key},
        }
        with contextlib.suppress(AlreadyExists):
            self.workloads.create_secret(namespace, body)

    def ensure_ca_bundle(self, namespace: str) -> None:
        """The ConfigMap that run pods of ``namespace`` mount the operator's CA bundle from,
        when there is one; rewritten when the operator starts with another bundle."""
        if self.ca_bundle is None:
            return
        try:
            current = self.workloads.get_configmap(namespace, CA_BUNDLE_CONFIGMAP)
            if (current.get("data") or {}).get(CA_BUNDLE_KEY) == self.ca_bundle:
                return
        except NotFound:
            pass
        self.workloads.apply_configmap(namespace, build_ca_bundle(self.ca_bundle))

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        ca_bundle = read_ca_bundle(settings.ca_bundle)
        return cls(
            settings=settings, kube=KubeClient.from_config(settings.kubeconfig), ca_bundle=ca_bundle
        )


def body_of(obj: dict[str, Any]) -> kopf.Body:
    """A fetched object as Kopf's Body, for posting Events about it."""
    return kopf.Body(cast(kopf.RawBody, obj))


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ready_condition(  # noqa: PLR0917  (a condition has that many parts)
    previous: list[dict[str, Any]],
    status: ConditionStatus,
    reason: str,
    message: str,
    generation: int | None,
    at: datetime,
) -> list[dict[str, Any]]:
    """The conditions list with Ready set; its transition time moves only when its status does."""
    old = next((c for c in previous if c.get("type") == "Ready"), None)
    changed = old is None or old.get("status") != status.value
    ready = {
        "type": "Ready",
        "status": status.value,
        "reason": reason,
        "message": message,
        "lastTransitionTime": iso(at) if changed or old is None else old["lastTransitionTime"],
    }
    if generation is not None:
        ready["observedGeneration"] = generation
    return [*(c for c in previous if c.get("type") != "Ready"), ready]
