"""The watch-fed cache of RegisteredModels and ModelVersions, and of the ModelDeployments that
serve them (read only: a version's ``mlkube.deployments`` tag is derived from them, serving.py).

The rules (newest resourceVersion wins, guarded removal, tombstones) are the shared cache's
(store/shared/cache.py). An object being deleted (deletionTimestamp set: the operator's
finalizers remove the registry copy, or hold a model until its versions are gone) is already gone
for MLflow.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from mlkube.api.errors import SpecError, parse
from mlkube.api.kinds import MODEL_DEPLOYMENT, MODEL_VERSION, REGISTERED_MODEL, Kind
from mlkube.api.model_deployment import ModelDeployment as DeploymentResource
from mlkube.api.model_version import ModelVersion as VersionResource
from mlkube.api.registered_model import RegisteredModel as ModelResource
from mlkube_operator.server.store.registry.kube import convert, names
from mlkube_operator.server.store.shared.cache import ResourceCache

log = logging.getLogger("mlkube.server.registry.cache")
Obj = dict[str, Any]


@dataclass(frozen=True)
class ModelRecord:
    resource: ModelResource
    version: int

    @property
    def uid(self) -> str | None:
        return self.resource.metadata.uid


@dataclass(frozen=True)
class VersionRecord:
    resource: VersionResource
    version: int

    @property
    def uid(self) -> str | None:
        return self.resource.metadata.uid


@dataclass(frozen=True)
class DeploymentRecord:
    resource: DeploymentResource
    version: int

    @property
    def uid(self) -> str | None:
        return self.resource.metadata.uid

    @property
    def models(self) -> set[str]:
        """The RegisteredModels it names: its stable track's and its canary's."""
        spec = self.resource.spec
        return {spec.model.name, *([spec.canary.model.name] if spec.canary else [])}


class RegistryCache(ResourceCache):
    """RegisteredModels by name, ModelVersions by name and by model, ModelDeployments by the
    models they name."""

    hide_terminating = True
    KINDS = (REGISTERED_MODEL, MODEL_VERSION, MODEL_DEPLOYMENT)

    def __init__(self) -> None:
        super().__init__(self.KINDS)
        self._models: dict[str, dict[str, ModelRecord]] = self.table(REGISTERED_MODEL)
        self._versions: dict[str, dict[str, VersionRecord]] = self.table(MODEL_VERSION)
        self._deployments: dict[str, dict[str, DeploymentRecord]] = self.table(MODEL_DEPLOYMENT)
        self._versions_of: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._serving: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))

    # -- the shared cache's hooks -----------------------------------------------------------

    def build(self, kind: Kind, obj: Obj, version: int, old: Any, hint: Any) -> Any:
        try:
            if kind is REGISTERED_MODEL:
                return ModelRecord(parse(ModelResource, obj), version)
            if kind is MODEL_DEPLOYMENT:
                return DeploymentRecord(parse(DeploymentResource, obj), version)
            return VersionRecord(parse(VersionResource, obj), version)
        except SpecError as err:
            meta = obj["metadata"]
            log.warning(
                "ignoring invalid %s %s/%s: %s",
                kind.kind,
                meta.get("namespace", ""),
                meta["name"],
                err,
            )
            return None

    def indexed(self, kind: Kind, namespace: str, name: str, old: Any, new: Any) -> None:
        if old is not None:
            self.unindexed(kind, namespace, name, old)
        if kind is MODEL_VERSION:
            self._versions_of[namespace][new.resource.spec.model].add(name)
        elif kind is MODEL_DEPLOYMENT:
            for model in new.models:
                self._serving[namespace][model].add(name)

    def unindexed(self, kind: Kind, namespace: str, name: str, old: Any) -> None:
        if kind is MODEL_VERSION:
            self._versions_of[namespace][old.resource.spec.model].discard(name)
        elif kind is MODEL_DEPLOYMENT:
            for model in old.models:
                self._serving[namespace][model].discard(name)

    # -- reads ------------------------------------------------------------------------------

    def model(self, namespace: str, resource_name: str) -> ModelRecord | None:
        with self._lock:
            return self._models[namespace].get(resource_name)

    def model_named(self, namespace: str, name: str) -> ModelRecord | None:
        """The model whose MLflow name is ``name``."""
        with self._lock:
            models = self._models[namespace]
            direct = models.get(names.model_resource_name(name))
            if direct is not None and convert.model_name(direct.resource) == name:
                return direct
            for record in models.values():
                if convert.model_name(record.resource) == name:
                    return record
            return None

    def models(self, namespace: str) -> list[ModelRecord]:
        with self._lock:
            return list(self._models[namespace].values())

    def versions_of(self, namespace: str, model: str) -> list[VersionRecord]:
        with self._lock:
            table = self._versions[namespace]
            return [table[n] for n in self._versions_of[namespace].get(model, ()) if n in table]

    def deployments_of(self, namespace: str, model: str) -> list[DeploymentResource]:
        """The ModelDeployments of ``namespace`` that name the model (resource name) ``model``,
        on either track."""
        with self._lock:
            table = self._deployments[namespace]
            names = self._serving[namespace].get(model, ())
            return [table[n].resource for n in names if n in table]
