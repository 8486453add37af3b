"""The I/O edge of the controllers, faked: an adapter that records every request, and indexes
over plain dicts. Nothing else is mocked: the reconcilers and their decisions run as they do in
the operator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from mlkube.api.kinds import Kind
from mlkube.objects import MemoryObjects, ObjectStore
from mlkube_operator.controllers.context import Context
from mlkube_operator.controllers.indexes import Indexes, Key, Obj
from mlkube_operator.kube.client import KubeClient
from mlkube_operator.kube.errors import AlreadyExists, Conflict, KubeError, NotFound
from mlkube_operator.settings import Settings

RUN_UID = "0f0e0d0c-0b0a-0908-0706-050403020100"


class FakeKube:
    """The KubeClient adapter, over a dict of objects; ``calls`` lists every request."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.config_maps: dict[tuple[str, str], tuple[dict[str, str], str]] = {}
        self.calls: list[tuple[str, ...]] = []
        # (namespace, pod, container) -> its log, or the KubeError reading it answers
        self.logs: dict[tuple[str, str, str], bytes | KubeError] = {}
        self._version = 0

    def _next(self) -> str:
        self._version += 1
        return str(self._version)

    # KubeClient
    def create(self, kind: Kind, namespace: str, body: Obj) -> Obj:
        name = body["metadata"]["name"]
        self.calls.append(("create", kind.plural, namespace, name))
        if (kind.plural, namespace, name) in self.objects:
            raise AlreadyExists(409, "AlreadyExists")
        obj = {**body, "metadata": {**body["metadata"], "resourceVersion": self._next()}}
        self.objects[kind.plural, namespace, name] = obj
        return obj

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        self.calls.append(("get", kind.plural, namespace, name))
        try:
            return self.objects[kind.plural, namespace, name]
        except KeyError:
            raise NotFound(404, "NotFound") from None

    def patch(
        self, kind: Kind, namespace: str, name: str, patch: Obj, *, status: bool = False
    ) -> Obj:
        self.calls.append(("patch-status" if status else "patch", kind.plural, namespace, name))
        obj = self.objects.get((kind.plural, namespace, name))
        if obj is None:
            raise NotFound(404, "NotFound")
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != obj["metadata"]["resourceVersion"]:
            raise Conflict(409, "Conflict")
        obj["status"] = {**(obj.get("status") or {}), **(patch.get("status") or {})}
        obj["metadata"]["resourceVersion"] = self._next()
        return obj

    def list(
        self, kind: Kind, namespace: str | None = None, selector: str | None = None
    ) -> tuple[list[Obj], str]:
        """Label selectors of the form ``key=value`` only."""
        self.calls.append(("list", kind.plural, namespace or "", selector or ""))
        key, _, value = (selector or "").partition("=")
        return [
            o
            for (p, ns, _), o in self.objects.items()
            if p == kind.plural
            and namespace in (None, ns)
            and (not key or (o.get("metadata") or {}).get("labels", {}).get(key) == value)
        ], "1"

    def get_config_map(self, namespace: str, name: str) -> tuple[dict[str, str], str]:
        self.calls.append(("get", "configmaps", namespace, name))
        try:
            return self.config_maps[namespace, name]
        except KeyError:
            raise NotFound(404, "NotFound") from None

    def put_config_map(
        self, namespace: str, name: str, data: dict[str, str], resource_version: str | None
    ) -> str:
        self.calls.append(("put", "configmaps", namespace, name))
        version = self._next()
        self.config_maps[namespace, name] = (data, version)
        return version

    # Workloads
    def apply_network_policy(self, body: Obj) -> Obj:
        meta = body["metadata"]
        self.calls.append(("apply", "networkpolicies", meta["namespace"], meta["name"]))
        self.objects["networkpolicies", meta["namespace"], meta["name"]] = body
        return body

    def apply_service(self, body: Obj) -> Obj:
        meta = body["metadata"]
        self.calls.append(("apply", "services", meta["namespace"], meta["name"]))
        self.objects["services", meta["namespace"], meta["name"]] = body
        return body

    def create_job(self, namespace: str, body: Obj) -> Obj:
        self.calls.append(("create", "jobs", namespace, body["metadata"]["name"]))
        self.objects["jobs", namespace, body["metadata"]["name"]] = body
        return body

    def patch_job(self, namespace: str, name: str, patch: Obj) -> Obj:
        self.calls.append(("patch", "jobs", namespace, name))
        return self.objects.get(("jobs", namespace, name)) or {}

    def read_pod_log(self, namespace: str, name: str, container: str, limit_bytes: int) -> bytes:
        self.calls.append(("get", "pods/log", namespace, name))
        found = self.logs.get((namespace, name, container))
        if found is None:
            raise NotFound(404, "NotFound", f'pods "{name}" not found')
        if isinstance(found, KubeError):
            raise found
        return found[:limit_bytes]

    def remove_pod_finalizer(self, namespace: str, name: str, finalizer: str) -> None:
        self.calls.append(("patch", "pods", namespace, name))

    def _get_named(self, plural: str, namespace: str, name: str) -> Obj:
        self.calls.append(("get", plural, namespace, name))
        try:
            return self.objects[plural, namespace, name]
        except KeyError:
            raise NotFound(404, "NotFound") from None

    def _create_named(self, plural: str, namespace: str, body: Obj) -> Obj:
        name = body["metadata"]["name"]
        self.calls.append(("create", plural, namespace, name))
        if (plural, namespace, name) in self.objects:
            raise AlreadyExists(409, "AlreadyExists")
        self.objects[plural, namespace, name] = body
        return body

    def get_service_account(self, namespace: str, name: str) -> Obj:
        return self._get_named("serviceaccounts", namespace, name)

    def create_service_account(self, namespace: str, body: Obj) -> Obj:
        return self._create_named("serviceaccounts", namespace, body)

    def get_role_binding(self, namespace: str, name: str) -> Obj:
        return self._get_named("rolebindings", namespace, name)

    def create_role_binding(self, namespace: str, body: Obj) -> Obj:
        return self._create_named("rolebindings", namespace, body)


def context(
    fake: FakeKube, settings: Settings | None = None, objects: ObjectStore | None = None
) -> Context:
    return Context(
        settings=settings or Settings(s3_access_key="a", s3_secret_key="s"),
        kube=cast(KubeClient, fake),
        store=objects if objects is not None else MemoryObjects("mlkube"),
    )


def index(entries: Mapping[Key, list[Obj]] | None = None) -> Any:
    """A Kopf index as handlers see it: a mapping of key to a collection of values."""
    return dict(entries or {})


def indexes(**fields: Mapping[Key, list[Obj]]) -> Indexes:
    names = ("runs", "experiments", "jobs", "pods", "models", "versions")
    return Indexes(**{name: index(fields.get(name)) for name in names})


Event = tuple[str, str, str]  # (type, reason, message)


def record_events(monkeypatch: Any, controller: Any) -> list[Event]:
    """Make ``controller``'s kopf.event (which posts through the running operator) record
    what it would post instead; the list it records into."""
    posted: list[Event] = []
    monkeypatch.setattr(
        controller.kopf,
        "event",
        lambda body, *, type, reason, message: posted.append((type, reason, message)),
    )
    return posted
