"""What every controller needs, built once at startup and handed to handlers as Kopf's memo."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import kopf

from mlkube.api.common import ConditionStatus
from mlkube.objects import ObjectStore
from mlkube.storage import S3Settings
from mlkube_operator.kube.client import KubeClient
from mlkube_operator.kube.errors import AlreadyExists, NotFound
from mlkube_operator.resources.identity import (
    RUN_SERVICE_ACCOUNT,
    SERVING_SERVICE_ACCOUNT,
    Identity,
    build_role_binding,
    build_service_account,
)
from mlkube_operator.resources.run import CA_BUNDLE_CONFIGMAP, CA_BUNDLE_KEY, build_ca_bundle
from mlkube_operator.settings import Settings


class KeyedLocks:
    """One lock per object, so events of a Run, its Job and its pods reconcile it one at a time.

    A key's lock lives only while someone holds or waits for it (a count per key), so the table
    stays as small as the work in flight instead of growing with every object ever seen.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key) or (threading.Lock(), 0)
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                users = self._locks[key][1] - 1
                if users:
                    self._locks[key] = (lock, users)
                else:
                    del self._locks[key]


class Ensured:
    """Namespaces where an object was ensured lately, so it costs no request per event.

    An entry expires after ``ttl`` seconds: an object deleted by hand (or a namespace deleted and
    made again) is put back within that time by the next reconcile. A key is a namespace, or a
    namespace and a name when one namespace holds several ensured objects.
    """

    def __init__(self, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._guard = threading.Lock()
        self._at: dict[str, float] = {}

    def fresh(self, namespace: str) -> bool:
        with self._guard:
            at = self._at.get(namespace)
            return at is not None and self.clock() - at < self.ttl

    def mark(self, namespace: str) -> None:
        with self._guard:
            self._at[namespace] = self.clock()


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
    identities: Ensured = field(default_factory=Ensured)
    bundles: Ensured = field(default_factory=Ensured)
    store: ObjectStore | None = None  # object storage; made from the settings on first use

    @property
    def storage(self) -> S3Settings:
        s = self.settings
        return S3Settings(s.s3_endpoint, s.s3_access_key, s.s3_secret_key, s.s3_bucket)

    @property
    def objects(self) -> ObjectStore:
        """The platform's object store (registry copies, runs' pod logs), with its key."""
        if self.store is None:
            self.store = self.storage.objects()
        return self.store

    def run_identity(self) -> Identity | None:
        """The identity the operator makes for run pods; None when the settings name another
        ServiceAccount (the cluster's admin makes and binds that one)."""
        if self.settings.run_service_account not in ("", RUN_SERVICE_ACCOUNT):
            return None
        return Identity(RUN_SERVICE_ACCOUNT, self.settings.run_cluster_role)

    def serving_identity(self) -> Identity:
        return Identity(SERVING_SERVICE_ACCOUNT, self.settings.serving_cluster_role)

    def ensure_identity(self, namespace: str, identity: Identity | None) -> None:
        """The ServiceAccount and RoleBinding of ``identity`` in ``namespace`` (checked once per
        namespace in a while, not per event). An existing RoleBinding is left as it is: its
        roleRef cannot change, and the operator may only get and create them."""
        key = f"{namespace}/{identity.name}" if identity else ""
        if identity is None or self.identities.fresh(key):
            return
        for get, create, body in (
            (
                self.kube.get_service_account,
                self.kube.create_service_account,
                build_service_account(identity),
            ),
            (
                self.kube.get_role_binding,
                self.kube.create_role_binding,
                build_role_binding(identity, namespace),
            ),
        ):
            try:
                get(namespace, identity.name)
            except NotFound:
                with contextlib.suppress(AlreadyExists):
                    create(namespace, body)
        self.identities.mark(key)

    def ensure_ca_bundle(self, namespace: str) -> None:
        """The ConfigMap that run pods of ``namespace`` mount the operator's CA bundle from,
        when there is one; rewritten when the operator starts with another bundle."""
        if self.ca_bundle is None or self.bundles.fresh(namespace):
            return
        try:
            data, _ = self.kube.get_config_map(namespace, CA_BUNDLE_CONFIGMAP)
            if data.get(CA_BUNDLE_KEY) == self.ca_bundle:
                self.bundles.mark(namespace)
                return
        except NotFound:
            pass
        self.kube.apply_configmap(namespace, build_ca_bundle(self.ca_bundle))
        self.bundles.mark(namespace)

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
    """The conditions list with Ready set (see ``set_condition``)."""
    return set_condition(previous, "Ready", status, reason, message, generation, at)


def set_condition(  # noqa: PLR0917  (a condition has that many parts)
    previous: list[dict[str, Any]],
    kind: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    generation: int | None,
    at: datetime,
) -> list[dict[str, Any]]:
    """The conditions list with the condition of type ``kind`` set; its transition time moves
    only when its status does, and the others are kept as they are."""
    old = next((c for c in previous if c.get("type") == kind), None)
    changed = old is None or old.get("status") != status.value
    condition = {
        "type": kind,
        "status": status.value,
        "reason": reason,
        "message": message,
        "lastTransitionTime": iso(at) if changed or old is None else old["lastTransitionTime"],
    }
    if generation is not None:
        condition["observedGeneration"] = generation
    return [*(c for c in previous if c.get("type") != kind), condition]
